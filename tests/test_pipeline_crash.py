"""Processors as real processes (``python -m fraudstream.cli.stream_cmds process``): kill -9 and
restart, two processors in one group, SIGTERM. On the embedded log and on a real Kafka broker.

Every test checks the outputs against the inputs by event id: nothing lost, and in
exactly-once mode nothing twice (read with ``read_committed``, as the transports always do).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudstream.stream.topics import Topics, ensure_topics
from fraudstream.stream.transport import Transport, open_transport
from test_pipeline import (
    committed_total,
    event_ids,
    kafka_url,
    produce_simulated,
    read_topic,
)

REPO = Path(__file__).resolve().parents[1]
WAIT = 90.0


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def pipeline_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "embedded":
        return f"embedded:{tmp_path / 'log.db'}?session_timeout=2"
    return kafka_url(request.getfixturevalue("kafka_bootstrap"))


@pytest.fixture
def topics(request: pytest.FixtureRequest) -> Topics:
    return Topics.prefixed(f"c{os.getpid()}-{abs(hash(request.node.nodeid)) % 10**8}-")


class ProcessorProcess:
    """``fraudstream process`` in a subprocess, its output in a log file."""

    def __init__(
        self,
        url: str,
        home: Path,
        topics: Topics,
        *,
        group: str,
        instance: str,
        exactly_once: bool,
        log: Path,
        batch_size: int = 100,
        extra: tuple[str, ...] = (),
    ) -> None:
        prefix = topics.transactions.removesuffix("transactions")
        cmd = [
            sys.executable, "-m", "fraudstream.cli.stream_cmds", "process",
            "--broker", url, "--home", str(home), "--group", group, "--instance", instance,
            "--batch-size", str(batch_size), "--topic-prefix", prefix, "--log-every", "1",
        ]  # fmt: skip
        if exactly_once:
            cmd.append("--exactly-once")
        cmd.extend(extra)
        self.log = log
        self._out = log.open("wb")
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        self.proc = subprocess.Popen(
            cmd, stdout=self._out, stderr=subprocess.STDOUT, cwd=REPO, env=env
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._out.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._out.close()

    def handled(self) -> int:
        """Inputs it handled, from its last line (``processed N inputs: ...``)."""
        found = re.findall(r"processed (\d+) inputs", self.text())
        assert found, self.text()[-3000:]
        return int(found[-1])

    def assigned(self) -> int:
        """Partitions in its latest assignment log line."""
        lines: list[str] = re.findall(r"assigned partitions: (.*)", self.text())
        if not lines or lines[-1].strip() == "none":
            return 0
        return lines[-1].count("[")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[ProcessorProcess]]:
    started: list[ProcessorProcess] = []
    yield started
    for p in started:
        p.close()


def outputs_written(transport: Transport, topics: Topics) -> int:
    return sum(transport.end_offsets(topics.processed).values())


def wait_until(
    check: Callable[[], bool], what: str, procs: list[ProcessorProcess], timeout: float = WAIT
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for p in procs:
            if p.proc.poll() is not None and p.proc.returncode not in (0, -9):
                raise AssertionError(f"processor exited {p.proc.returncode}:\n{p.text()[-3000:]}")
        if time.monotonic() > deadline:
            logs = "\n---\n".join(p.text()[-2000:] for p in procs)
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.05)


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
def test_kill_9_and_restart_loses_nothing(
    pipeline_url: str,
    topics: Topics,
    detector_home: Path,
    tmp_path: Path,
    spawn: list[ProcessorProcess],
    exactly_once: bool,
) -> None:
    total = 3000
    with open_transport(pipeline_url) as transport:
        ensure_topics(transport, 4, topics)
        sent = {r["event_id"] for r in produce_simulated(transport, topics, total)}

        def start(n: int) -> ProcessorProcess:
            p = ProcessorProcess(
                pipeline_url, detector_home, topics, group="crash", instance="p0",
                exactly_once=exactly_once, log=tmp_path / f"p{n}.log",
            )  # fmt: skip
            spawn.append(p)
            return p

        first = start(1)
        wait_until(lambda: outputs_written(transport, topics) >= 300, "first outputs", [first])
        first.kill()
        before = outputs_written(transport, topics)
        assert before < total, "the processor finished before it could be killed"

        second = start(2)
        outputs: list[str] = []

        def all_out() -> bool:
            if outputs_written(transport, topics) < total:
                return False
            outputs[:] = event_ids(read_topic(transport, topics.processed, quiet=0.3))
            return set(outputs) >= sent

        wait_until(all_out, "every input to have an output", [second])
        assert second.terminate() == 0, second.text()[-3000:]
        outputs = event_ids(read_topic(transport, topics.processed, total))
        assert set(outputs) == sent  # at-least-once: no event lost
        if exactly_once:
            assert len(outputs) == total, Counter(outputs).most_common(3)  # and none twice
        assert committed_total(transport, "crash", topics.transactions) == total


def test_two_processors_split_the_partitions_exactly_once(
    pipeline_url: str,
    topics: Topics,
    detector_home: Path,
    tmp_path: Path,
    spawn: list[ProcessorProcess],
) -> None:
    total = 2000
    with open_transport(pipeline_url) as transport:
        ensure_topics(transport, 4, topics)
        procs = [
            ProcessorProcess(
                pipeline_url, detector_home, topics, group="pair", instance=name,
                exactly_once=True, log=tmp_path / f"{name}.log",
            )
            for name in ("a", "b")
        ]  # fmt: skip
        spawn.extend(procs)
        wait_until(lambda: all(p.assigned() == 2 for p in procs), "a 2+2 split", procs)
        sent = {r["event_id"] for r in produce_simulated(transport, topics, total)}
        wait_until(lambda: outputs_written(transport, topics) >= total, "all outputs", procs)
        codes = [p.terminate() for p in procs]
        assert codes == [0, 0], [p.text()[-2000:] for p in procs]
        handled = [p.handled() for p in procs]
        assert all(n > 0 for n in handled), handled  # both did work
        assert sum(handled) == total, handled
        outputs = event_ids(read_topic(transport, topics.processed, total))
        assert len(outputs) == total
        assert set(outputs) == sent
        assert committed_total(transport, "pair", topics.transactions) == total


def test_sigterm_finishes_the_batch_and_commits(
    topics: Topics, detector_home: Path, tmp_path: Path, spawn: list[ProcessorProcess]
) -> None:
    url = f"embedded:{tmp_path / 'log.db'}?session_timeout=2"
    total = 3000
    with open_transport(url) as transport:
        ensure_topics(transport, 4, topics)
        sent = {r["event_id"] for r in produce_simulated(transport, topics, total)}
        first = ProcessorProcess(
            url, detector_home, topics, group="term", instance="p0", exactly_once=False,
            log=tmp_path / "first.log",
        )  # fmt: skip
        spawn.append(first)
        wait_until(lambda: outputs_written(transport, topics) >= 300, "first outputs", [first])
        started = time.monotonic()
        assert first.terminate() == 0, first.text()[-3000:]
        assert time.monotonic() - started < 30  # one batch and a clean close, not a hang
        assert "SIGTERM received" in first.text()
        written = outputs_written(transport, topics)
        assert written < total, "the processor finished before SIGTERM"
        # Everything written is committed and nothing committed is unwritten.
        assert committed_total(transport, "term", topics.transactions) == written
        assert first.handled() == written

        second = ProcessorProcess(
            url, detector_home, topics, group="term", instance="p0", exactly_once=False,
            log=tmp_path / "second.log",
        )  # fmt: skip
        spawn.append(second)
        wait_until(lambda: outputs_written(transport, topics) >= total, "the rest", [second])
        assert second.terminate() == 0
        outputs = event_ids(read_topic(transport, topics.processed, total))
        assert sorted(outputs) == sorted(sent)  # a graceful stop repeats nothing


@pytest.mark.kafka
def test_a_fenced_processor_exits_non_zero_instead_of_retrying_forever(
    kafka_broker: Any,
    topics: Topics,
    detector_home: Path,
    tmp_path: Path,
    spawn: list[ProcessorProcess],
) -> None:
    """A second processor started with the same name (a misconfigured deployment, or a
    restart while the old one still runs) fences the first: librdkafka reports a fatal error,
    and the first must stop with a clear message and a non-zero exit code, while the second
    carries on with the work."""
    if kafka_broker.kind == "tansu":
        pytest.skip("tansu does not fence static members")
    url = kafka_url(kafka_broker.bootstrap)
    total = 400
    with open_transport(url) as transport:
        ensure_topics(transport, 2, topics)
        first = ProcessorProcess(
            url, detector_home, topics, group="twin", instance="p0", exactly_once=False,
            log=tmp_path / "first.log",
        )  # fmt: skip
        spawn.append(first)
        wait_until(lambda: first.assigned() == 2, "the first processor's partitions", [first])
        twin = ProcessorProcess(
            url, detector_home, topics, group="twin", instance="p0", exactly_once=False,
            log=tmp_path / "twin.log",
        )  # fmt: skip
        spawn.append(twin)
        sent = {r["event_id"] for r in produce_simulated(transport, topics, total)}
        deadline = time.monotonic() + WAIT
        while first.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.proc.returncode == 1, first.text()[-3000:]
        text = first.text()
        assert "fatal transport error" in text
        assert "failed:" in text
        assert "fatal Kafka error" in text
        assert "Traceback" not in text
        wait_until(lambda: outputs_written(transport, topics) >= total, "the twin's work", [twin])
        assert twin.terminate() == 0, twin.text()[-3000:]
        assert set(event_ids(read_topic(transport, topics.processed, total))) >= sent


def test_processors_sharing_redis_state_lose_no_update(
    redis_server: Any,
    topics: Topics,
    detector_home: Path,
    tmp_path: Path,
    spawn: list[ProcessorProcess],
) -> None:
    """Scale-out with shared state: two processors write the same card-BIN, IP and e-mail
    states at once. Redis refuses a write over a concurrent one; the engine must read and
    update again, so every event is scored (no scoring-error dead letter) and counted exactly
    once in every state it touches."""
    from fraudstream.detector import Engine
    from fraudstream.detector.defaults import DETECTOR_ID
    from fraudstream.detector.features import RedisStateStore
    from fraudstream.events import parse_transaction

    url = f"embedded:{tmp_path / 'log.db'}?session_timeout=2"
    state_url = redis_server.url.rsplit("/", 1)[0] + "/7"  # a database no other test uses
    total = 1500
    with open_transport(url) as transport:
        ensure_topics(transport, 4, topics)
        procs = [
            ProcessorProcess(
                url, detector_home, topics, group="shared", instance=name, exactly_once=False,
                log=tmp_path / f"{name}.log", extra=("--state-url", state_url),
            )
            for name in ("a", "b")
        ]  # fmt: skip
        spawn.extend(procs)
        wait_until(lambda: all(p.assigned() == 2 for p in procs), "a 2+2 split", procs)
        sent = produce_simulated(transport, topics, total)
        wait_until(lambda: outputs_written(transport, topics) >= total, "all outputs", procs)
        assert [p.terminate() for p in procs] == [0, 0]
        assert all(p.handled() > 0 for p in procs)
        assert sum(transport.end_offsets(topics.dlq).values()) == 0, "events were dead-lettered"

    engine = Engine.open(detector_home)
    try:
        extractor = engine.compiled(DETECTOR_ID).models[0].extractor
    finally:
        engine.close()
    expected: Counter[str] = Counter()
    for record in sent:
        expected.update(extractor.state_keys(parse_transaction(record).to_event()))
    shared = [key for key, n in expected.items() if n > 1 and not key.startswith("entity")]
    assert shared, "the traffic shares no BIN, IP or e-mail state: nothing was tested"
    with RedisStateStore(state_url) as store:
        states = store.get_many(list(expected))
    counted = {key: (state.count if state else 0) for key, state in states.items()}
    assert counted == dict(expected)
