"""The Flink job on a local mini-cluster against the real broker fixture (slow: run once in CI).

Needs PyFlink and the Kafka connector jars (``scripts/flink-deps.sh``); without them every test
here FAILS saying so. Inputs are bounded: the job stops at given end offsets (the CLI test's
``--until-end`` reads them from the broker, which noida, the default fixture broker, reports
correctly and tansu may not).

* the job writes the Python processor's records for the same input (one partition,
  parallelism 1), dead letters included, and its keyed state counts every key's events;
* ``fraudstream flink run --local`` with parallelism 2 over 3 partitions and exactly-once
  (Kafka transactions): one output per input, per-entity state exact;
* activating a detector version reaches the running job without a restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from fraudstream.detector.engine import Engine
from fraudstream.errors import InvalidInput
from fraudstream.events import parse_transaction
from fraudstream.stream.flink.deps import FlinkDeps, FlinkDepsMissing, find_flink_deps
from fraudstream.stream.flink.launcher import LocalJob
from fraudstream.stream.flink.settings import FlinkSettings, WorkerSettings
from fraudstream.stream.processor import Processor, ProcessorSettings
from fraudstream.stream.records import DeadLetter
from fraudstream.stream.topics import Topics, ensure_topics
from fraudstream.stream.transport import Message, Transport, open_transport
from test_flink_units import (
    TIMING_FIELDS,
    Input,
    activate_block_everything,
    dead_letter_view,
    expected_state_counts,
    fd_without_timing,
    make_inputs,
    simulated_inputs,
)

pytestmark = [pytest.mark.flink, pytest.mark.kafka, pytest.mark.timeout(900)]
pytest_plugins = ["fixtures.detector"]

KAFKA_TEST_CONFIG = {
    "consumer.session.timeout.ms": "6000",
    "consumer.heartbeat.interval.ms": "500",
    "consumer.fetch.wait.max.ms": "10",
    "producer.linger.ms": "1",
}
#: Fail fast instead of restarting forever; short checkpoints so exactly-once commits promptly.
TEST_FLINK_CONFIG = {"restart-strategy.type": "none"}
OUTCOMES = {"approve", "review", "block"}
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def flink(kafka_bootstrap: str) -> FlinkDeps:
    try:
        return find_flink_deps()
    except FlinkDepsMissing as exc:
        missing = str(exc)
    pytest.fail(f"the Flink tests need PyFlink and the Kafka jars: {missing}", pytrace=False)


@pytest.fixture
def url(kafka_bootstrap: str) -> str:
    return f"kafka://{kafka_bootstrap}?{urlencode(KAFKA_TEST_CONFIG)}"


@pytest.fixture
def transport(url: str) -> Iterator[Transport]:
    with open_transport(url) as transport:
        yield transport


def fresh_topics(label: str) -> Topics:
    return Topics.prefixed(f"{label}{uuid.uuid4().hex[:8]}-")


def produce(transport: Transport, topic: str, inputs: list[Input]) -> None:
    producer = transport.producer()
    try:
        for key, value, headers in inputs:
            producer.produce(topic, value, key, headers)
        producer.flush(30)
    finally:
        producer.close()


def read_all(transport: Transport, topic: str, count: int, timeout: float = 120.0) -> list[Message]:
    """``count`` messages of ``topic`` (read_committed, from the start), then 1 s of quiet."""
    out: list[Message] = []
    with transport.consumer(f"reader-{uuid.uuid4().hex[:8]}", [topic]) as consumer:
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            batch = consumer.poll(max_messages=1000, timeout=0.2)
            now = time.monotonic()
            if batch:
                out.extend(batch)
                quiet_since = now
            elif len(out) >= count and (quiet_since is None or now - quiet_since >= 1.0):
                return out
    raise AssertionError(f"{topic}: {len(out)} messages after {timeout}s, wanted {count}")


def by_event(messages: list[Message]) -> dict[str, Message]:
    out: dict[str, Message] = {}
    for m in messages:
        event_id = orjson.loads(m.value)["event_id"]
        assert event_id not in out, f"two decisions for {event_id}"
        out[event_id] = m
    return out


def valid_records(inputs: list[Input]) -> list[tuple[int, dict[str, Any]]]:
    """(input offset, record) of the inputs that are valid transactions."""
    out = []
    for offset, (_, value, _) in enumerate(inputs):
        try:
            parse_transaction(value)
        except InvalidInput:
            continue
        out.append((offset, orjson.loads(value)))
    return out


def decisions_per_input(messages: list[Message]) -> dict[tuple[str, bool], Message]:
    """(event id, duplicate flag) -> its decision, asserting there is exactly one each."""
    out: dict[tuple[str, bool], Message] = {}
    for m in messages:
        record = orjson.loads(m.value)
        key = (record["event_id"], record["fd"]["duplicate"])
        assert key not in out, f"two decisions for {key}"
        out[key] = m
    return out


def run_processor(url: str, topics: Topics, home: Path, count: int) -> None:
    engine = Engine.open(home)
    try:
        with (
            open_transport(url) as transport,
            Processor(
                transport,
                engine,
                ProcessorSettings(
                    group_id=f"p-{uuid.uuid4().hex[:6]}", summary_every=0, lag_every=0, instance="t"
                ),
                topics=topics,
            ) as processor,
        ):
            handled = processor.run(max_events=count, idle_timeout=30)
        assert handled == count
    finally:
        engine.close()


def sample(job: LocalJob, totals: list[int], counts: list[int]) -> None:
    procs = job.processes()
    totals.append(sum(procs.values()))
    counts.append(len(procs))


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_job_writes_the_processors_records(
    mode: str,
    flink: FlinkDeps,
    url: str,
    transport: Transport,
    trained_detector_home: Path,
    tmp_path: Path,
) -> None:
    from fixtures.detector import copy_registry

    source = fresh_topics("fl")
    ensure_topics(transport, 1, source)
    inputs = make_inputs(1500)
    produce(transport, source.transactions, inputs)
    ends = {0: len(inputs)}  # one partition: not the broker's end offset (tansu's can be wrong)

    # The Python processor on the input, with its own output topics.
    run_processor(url, source, copy_registry(trained_detector_home, tmp_path / "p"), len(inputs))
    # The Flink job on the same input, into other output topics.
    flink_topics = Topics(
        transactions=source.transactions,
        processed=source.processed + "-flink",
        dlq=source.dlq + "-flink",
        truth=source.truth + "-flink",
    )
    ensure_topics(transport, 1, flink_topics)
    home = copy_registry(trained_detector_home, tmp_path / "f")
    settings = FlinkSettings(
        broker=url,
        worker=WorkerSettings(
            registry=str(home / "registry.db"), topics=flink_topics, debug_state=True
        ),
        group_id=f"f-{uuid.uuid4().hex[:6]}",
        start="earliest",
        bounded=ends,
        execution_mode=mode,  # type: ignore[arg-type]
        flink_config=TEST_FLINK_CONFIG,
    )
    totals: list[int] = []
    counts: list[int] = []
    started = time.monotonic()
    with LocalJob(
        settings, deps=flink, log=tmp_path / "flink.log", log_dir=tmp_path / "jvm"
    ) as job:
        running = job.wait_running()
        while job.proc.poll() is None and time.monotonic() - started < 600:
            sample(job, totals, counts)
            time.sleep(0.5)
        job.wait(10)
    elapsed = time.monotonic() - started
    print(
        f"\nflink job ({mode}): {len(inputs)} inputs in {elapsed:.1f}s wall"
        f" ({running:.1f}s to submit); peak {max(totals) / 2**20:.0f} MiB RSS"
        f" over {max(counts)} processes"
    )

    good = len(inputs) - 6  # six bad records
    want = decisions_per_input(read_all(transport, source.processed, good))
    got = decisions_per_input(read_all(transport, flink_topics.processed, good))
    assert len(got) == good
    assert set(got) == set(want)
    assert sum(dup for _, dup in got) == 1
    for key, message in got.items():
        assert message.key == want[key].key
        assert message.partition == want[key].partition
        assert fd_without_timing(message.value) == fd_without_timing(want[key].value), key
        fd = orjson.loads(message.value)["fd"]
        assert set(TIMING_FIELDS) <= set(fd)
        assert fd["ttdf"] >= fd["proc_time"]
        assert fd["frauddetector_time"] > 0
        assert fd["outcome"] in OUTCOMES

    # Keyed state: every key's event count before each event, over many events per key.
    records = valid_records(inputs)
    expected = expected_state_counts(records)
    per_entity = Counter(r["entity_id"] for _, r in records)
    assert max(per_entity.values()) >= 10  # many events per entity
    first_offset: dict[str, int] = {}
    last_offset: dict[str, int] = {}
    for offset, record in records:
        first_offset.setdefault(record["event_id"], offset)
        last_offset[record["event_id"]] = offset
    for (event_id, duplicate), message in got.items():
        offset = last_offset[event_id] if duplicate else first_offset[event_id]
        fd = orjson.loads(message.value)["fd"]
        assert fd["state_counts"] == expected[offset], (event_id, duplicate)

    # Dead letters: the processor's, byte for byte, except the write time.
    want_dead = read_all(transport, source.dlq, 6)
    got_dead = read_all(transport, flink_topics.dlq, 6)
    assert len(got_dead) == 6
    want_by_offset = {DeadLetter.from_message(m).source_offset: m for m in want_dead}
    for message in got_dead:
        letter = DeadLetter.from_message(message)
        other = want_by_offset[letter.source_offset]
        assert dead_letter_view(message.headers, message.value, message.key) == (
            dead_letter_view(other.headers, other.value, other.key)
        )
        assert letter.source.topic == source.transactions
    kinds = sorted(DeadLetter.from_message(m).kind for m in got_dead)
    assert kinds == sorted(
        ["malformed_json", "not_an_object", "invalid", "invalid", "too_large", "malformed_json"]
    )


def test_cli_parallel_exactly_once(
    flink: FlinkDeps,
    url: str,
    transport: Transport,
    trained_detector_home: Path,
    tmp_path: Path,
) -> None:
    from fixtures.detector import copy_registry

    prefix = f"fx{uuid.uuid4().hex[:8]}-"
    topics = Topics.prefixed(prefix)
    ensure_topics(transport, 3, topics)
    inputs = make_inputs(1200, seed_offset=1)
    produce(transport, topics.transactions, inputs)
    home = copy_registry(trained_detector_home, tmp_path / "home")
    cmd = [
        sys.executable, "-m", "fraudstream.cli.flink_cmds", "run", "--local",
        "--broker", url, "--home", str(home), "--topic-prefix", prefix, "--partitions", "3",
        "--parallelism", "2", "--exactly-once", "--checkpoint-interval", "2", "--until-end",
        "--start", "earliest", "--debug-state", "--group", f"fx-{uuid.uuid4().hex[:6]}",
        "--flink-config", "restart-strategy.type=none",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, check=False)
    print(f"\nflink run --local, parallelism 2, exactly-once: {time.monotonic() - started:.1f}s")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    good = len(inputs) - 6
    got = decisions_per_input(read_all(transport, topics.processed, good))  # read_committed
    dead = read_all(transport, topics.dlq, 6)
    assert len(got) == good
    assert len(dead) == 6
    records = valid_records(inputs)
    assert {event_id for event_id, _ in got} == {r["event_id"] for _, r in records}
    # Entity state is exact with any parallelism: an entity's events stay in order on one key.
    expected = expected_state_counts(records)
    first_offset: dict[str, int] = {}
    for offset, record in records:
        first_offset.setdefault(record["event_id"], offset)
    shared: dict[str, list[int]] = defaultdict(list)
    for (event_id, duplicate), message in got.items():
        record = orjson.loads(message.value)
        fd = record["fd"]
        assert fd["outcome"] in OUTCOMES
        assert fd["detector_version_id"] == "1"
        if duplicate:
            continue
        assert fd["state_counts"]["entity"] == expected[first_offset[event_id]]["entity"]
        shared[f"ip:{record['ip_address']}"].append(fd["state_counts"]["ip"])
        shared[f"bin:{record['card_bin']}"].append(fd["state_counts"]["bin"])
    # Shared keys see events from several entities in arrival order: each event counted once.
    for key, seen in shared.items():
        assert sorted(seen) == list(range(len(seen))), key


def test_activating_a_version_reaches_the_running_job(
    flink: FlinkDeps,
    url: str,
    transport: Transport,
    trained_detector_home: Path,
    tmp_path: Path,
) -> None:
    from fixtures.detector import copy_registry

    topics = fresh_topics("fa")
    ensure_topics(transport, 2, topics)
    home = copy_registry(trained_detector_home, tmp_path / "home")
    settings = FlinkSettings(
        broker=url,
        worker=WorkerSettings(
            registry=str(home / "registry.db"), topics=topics, refresh_seconds=0.5
        ),
        group_id=f"fa-{uuid.uuid4().hex[:6]}",
        parallelism=2,
        start="earliest",
        flink_config=TEST_FLINK_CONFIG,
    )
    batch = simulated_inputs(200, seed_offset=2)
    first, second = batch[:100], batch[100:]
    with LocalJob(
        settings, deps=flink, log=tmp_path / "flink.log", log_dir=tmp_path / "jvm"
    ) as job:
        job.wait_running()
        produce(transport, topics.transactions, first)
        before = by_event(read_all(transport, topics.processed, len(first)))
        version = activate_block_everything(home / "registry.db")
        time.sleep(2.0)  # > refresh_seconds: every worker has seen the change counter
        produce(transport, topics.transactions, second)
        after = by_event(read_all(transport, topics.processed, len(batch)))
        assert job.proc.poll() is None, job.tail()
    assert job.proc.returncode == 0, job.tail()  # cancelled cleanly on SIGTERM
    first_ids = {orjson.loads(v)["event_id"] for _, v, _ in first}
    assert {orjson.loads(m.value)["fd"]["detector_version_id"] for m in before.values()} == {"1"}
    for event_id, message in after.items():
        fd = orjson.loads(message.value)["fd"]
        if event_id in first_ids:
            assert fd["detector_version_id"] == "1"
        else:
            assert (fd["detector_version_id"], fd["outcome"]) == (version, "block"), event_id
