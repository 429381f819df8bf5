"""The live pipeline end to end: producer -> transactions -> processor(s) -> processed_transactions.

    .venv/bin/python benchmarks/bench_pipeline.py [--backlog 30000] [--processors 1,2]
        [--live-rate 3000] [--latency-rate 1000] [--seconds 20] [--recovery 100000]
        [--no-kafka] [--kafka noida|tansu|host:port] [--only throughput,live,latency,recovery]

Processors run as real processes (``python -m fraudstream.cli.stream_cmds process``,
at-least-once unless ``--exactly-once``, batch 500) scoring with a default detector trained here
on a small simulated history. Simulated traffic uses ``--time-scale natural`` (each customer as
busy as in the training history, so the decision mix is realistic). For each transport (the
embedded SQLite log, then Kafka on a broker started like the test fixture does):

* throughput: a backlog of ``--backlog`` transactions drained by 1 and 2 processors; outputs/s
  between 5% and 95% of the outputs (start-up excluded), and outputs per CPU-second the
  processors used in that window (what one core does, whatever else the machine runs);
* live: the producer (its own process, ``fraudstream produce --rate``) at ``--live-rate`` with two
  processors for ``--seconds``: transactions produced/s and decisions written/s over the run,
  and the lag left when the producer stops;
* latency: the producer at ``--latency-rate`` for ``--seconds`` with one processor; for every
  event, the time from ``produce()`` (the input's log timestamp, recovered from ``fd``) to its
  decision being readable in ``processed_transactions`` (a reader in this process; includes its
  poll delay, so an upper bound of produce -> decision written), p50/p99 after a 3 s warm-up;
* recovery: ``--recovery`` transactions of backlog, one processor killed with SIGKILL after its
  first 2,000 outputs, then restarted: seconds from the restart to the first new output and to
  every input having an output (process start-up included).

All processes share this machine's cores; the load average is printed because other work on the
machine changes the numbers.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # for fixtures.*

from fixtures.detector import (  # noqa: E402
    TRAINING_CUSTOMERS,
    TRAINING_SEED,
    copy_registry,
    train_default_detector,
)
from fixtures.kafka_broker import running_broker  # noqa: E402
from fraudstream.simulate import FakeClock  # noqa: E402
from fraudstream.stream.producer import TransactionProducer, simulated  # noqa: E402
from fraudstream.stream.topics import Topics, ensure_topics  # noqa: E402
from fraudstream.stream.transport import Transport, open_transport  # noqa: E402

KAFKA_CONFIG = {
    "consumer.session.timeout.ms": "6000",
    "consumer.heartbeat.interval.ms": "500",
    "consumer.fetch.wait.max.ms": "10",
    "consumer.max.poll.interval.ms": "30000",
    "producer.linger.ms": "1",
}
EVENT_ID = re.compile(rb'"event_id":"([^"]+)"')
PARTITIONS = 4
SHOW_LOGS = False
EXACTLY_ONCE = False


# --------------------------------------------------------------------------- plumbing


class Env:
    """Where one transport's runs happen: a URL maker, a trained registry, a temp folder."""

    def __init__(self, name: str, url: Callable[[str], str], trained: Path, tmp: Path) -> None:
        self.name = name
        self.url = url
        self.trained = trained
        self.tmp = tmp

    def fresh(self, label: str) -> tuple[str, Path, Topics, str]:
        """A log URL, an empty home with the trained registry, topics and a topic prefix."""
        run = f"{label}-{uuid.uuid4().hex[:6]}"
        home = copy_registry(self.trained, self.tmp / run / "home")
        prefix = f"{run}-"
        return self.url(run), home, Topics.prefixed(prefix), prefix


class Proc:
    def __init__(self, cmd: list[str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT, env=env)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def summaries(self) -> str:
        """The processor's periodic log lines (rate, outcomes, latency, lag)."""
        return "\n".join(
            "    | " + line.split(": ", 1)[-1]
            for line in self.text().splitlines()
            if "tx/s" in line
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()


class Reader(threading.Thread):
    """Tails a topic from its start in a background thread, calling ``on_message(message)``."""

    def __init__(self, url: str, topic: str, on_message: Callable[[Any], object]) -> None:
        super().__init__(daemon=True)
        self.url, self.topic, self.on_message = url, topic, on_message
        self.halt = threading.Event()
        self.error: BaseException | None = None
        self.assigned = threading.Event()
        self.start()

    def run(self) -> None:
        try:
            with (
                open_transport(self.url) as transport,
                transport.consumer(f"reader-{uuid.uuid4().hex[:6]}", [self.topic]) as consumer,
            ):
                while not self.halt.is_set():
                    for message in consumer.poll(max_messages=5000, timeout=0.05):
                        self.on_message(message)
                    if consumer.assignment():
                        self.assigned.set()
        except BaseException as exc:
            self.error = exc
            raise

    def ok(self) -> bool:
        """True while the reader runs (raises if it died)."""
        if self.error is not None:
            raise SystemExit(f"reader failed: {self.error!r}")
        return True

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


def processor(url: str, home: Path, prefix: str, instance: str, log: Path) -> Proc:
    mode = ["--exactly-once"] if EXACTLY_ONCE else []
    cmd = [
        sys.executable, "-m", "fraudstream.cli.stream_cmds", "process", "--broker", url,
        "--home", str(home), "--topic-prefix", prefix, "--instance", instance,
        "--group", "bench", "--batch-size", "500", "--log-every", "5",
    ]  # fmt: skip
    return Proc(cmd + mode, log)


def producer_cli(url: str, home: Path, prefix: str, rate: float, seconds: float, log: Path) -> Proc:
    cmd = [
        sys.executable, "-m", "fraudstream.cli.stream_cmds", "produce", "--broker", url,
        "--home", str(home), "--topic-prefix", prefix, "--rate", f"{rate}/s",
        "--duration", str(seconds), "--no-bursts", "--seed", str(TRAINING_SEED),
        "--customers", str(TRAINING_CUSTOMERS), "--time-scale", "natural",
    ]  # fmt: skip
    return Proc(cmd, log)


def total(transport: Transport, topic: str) -> int:
    return sum(transport.end_offsets(topic).values())


def wait_for(check: Callable[[], bool], what: str, timeout: float = 600.0) -> float:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.monotonic()


def wait_assigned(procs: list[Proc], timeout: float = 120.0) -> None:
    """Until the processors split all partitions between them (from their logs)."""

    def split() -> bool:
        owned = 0
        for p in procs:
            if p.proc.poll() is not None:
                raise SystemExit(f"processor exited:\n{p.text()[-2000:]}")
            lines = re.findall(r"assigned partitions: (.*)", p.text())
            owned += lines[-1].count("[") if lines else 0
        return owned == PARTITIONS and all("assigned partitions" in p.text() for p in procs)

    wait_for(split, "the processors' partition assignment", timeout)


def backlog(url: str, topics: Topics, n: int) -> float:
    """``n`` simulated transactions in fake time (fast); returns produced/s."""
    clock = FakeClock()
    started = time.perf_counter()
    with open_transport(url) as transport, TransactionProducer(transport, topics) as producer:
        source = simulated(
            1000.0, seed=TRAINING_SEED, n_customers=TRAINING_CUSTOMERS, limit=n,
            clock=clock.time, sleep=clock.sleep, time_scale="natural",
        )  # fmt: skip
        producer.run(source)
    return n / (time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(q * len(values) + 0.999999) - 1))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


# --------------------------------------------------------------------------- scenarios


def throughput(env: Env, n: int, processors: int) -> dict[str, Any]:
    url, home, topics, prefix = env.fresh(f"tp{processors}")
    with open_transport(url) as transport:
        ensure_topics(transport, PARTITIONS, topics)
        backlog(url, topics, n)
        procs = [
            processor(url, home, prefix, f"p{i}", env.tmp / f"{prefix}p{i}.log")
            for i in range(processors)
        ]
        try:
            t5 = wait_for(lambda: total(transport, topics.processed) >= 0.05 * n, "5%")
            cpu5 = sum(cpu_seconds(p.proc.pid) for p in procs)
            t95 = wait_for(lambda: total(transport, topics.processed) >= 0.95 * n, "95%")
            cpu95 = sum(cpu_seconds(p.proc.pid) for p in procs)
        finally:
            for p in procs:
                p.stop()
    rate = 0.9 * n / (t95 - t5)
    per_cpu = 0.9 * n / max(cpu95 - cpu5, 1e-9)
    print(
        f"  throughput  {env.name:<9} {processors} processor(s): {rate:>7,.0f} tx/s"
        f"  ({per_cpu:,.0f} tx per processor CPU-second; backlog {n:,}; {load()})",
        flush=True,
    )
    return {"rate": rate, "per_cpu_second": per_cpu}


def live(env: Env, rate: float, seconds: float) -> dict[str, Any]:
    url, home, topics, prefix = env.fresh("live")
    with open_transport(url) as transport:
        ensure_topics(transport, PARTITIONS, topics)
        procs = [
            processor(url, home, prefix, f"p{i}", env.tmp / f"{prefix}p{i}.log") for i in (0, 1)
        ]
        try:
            wait_assigned(procs)
            prod = producer_cli(url, home, prefix, rate, seconds, env.tmp / f"{prefix}prod.log")
            wait_for(lambda: total(transport, topics.transactions) > 0, "first input", 60)
            start = time.monotonic()
            in0, out0 = total(transport, topics.transactions), total(transport, topics.processed)
            max_lag = 0
            while prod.proc.poll() is None:
                time.sleep(0.5)
                lag = total(transport, topics.transactions) - total(transport, topics.processed)
                max_lag = max(max_lag, lag)
            end = time.monotonic()
            produced = total(transport, topics.transactions) - in0
            decided = total(transport, topics.processed) - out0
            lag_at_end = total(transport, topics.transactions) - total(transport, topics.processed)
            drained = wait_for(
                lambda: total(transport, topics.processed) >= total(transport, topics.transactions),
                "drain",
            )
            prod.stop()
        finally:
            for p in procs:
                p.stop()
    elapsed = end - start
    print(
        f"  live        {env.name:<9} 2 processors, producer at {rate:,.0f}/s: produced"
        f" {produced / elapsed:>6,.0f}/s, decided {decided / elapsed:>6,.0f}/s; lag max"
        f" {max_lag:,}, {lag_at_end:,} at the end, drained {drained - end:.1f}s later ({load()})",
        flush=True,
    )
    return {"produced": produced / elapsed, "decided": decided / elapsed}


def latency(env: Env, rate: float, seconds: float) -> dict[str, Any]:
    url, home, topics, prefix = env.fresh("lat")
    seen: dict[bytes, float] = {}
    with open_transport(url) as transport:
        ensure_topics(transport, PARTITIONS, topics)
        proc = processor(url, home, prefix, "p0", env.tmp / f"{prefix}p0.log")
        try:
            wait_assigned([proc])

            reader = Reader(url, topics.processed, lambda m: seen.setdefault(m.value, time.time()))
            if not reader.assigned.wait(60):
                raise SystemExit("the reader got no partitions")
            prod = producer_cli(url, home, prefix, rate, seconds, env.tmp / f"{prefix}prod.log")
            prod.proc.wait(seconds + 60)
            prod.stop()
            produced = total(transport, topics.transactions)
            wait_for(lambda: reader.ok() and len(seen) >= produced, "every decision", 120)
            reader.stop()
        finally:
            proc.stop()
    if SHOW_LOGS:
        print(proc.summaries())
    # When the input was produced (its log timestamp): the decision time minus fd.queue_time
    # (decision_time has ms precision). Event times are simulated ("natural" time scale).
    times = []
    for value, got in seen.items():
        fd = orjson.loads(value)["fd"]
        decided = datetime.fromisoformat(fd["decision_time"].replace("Z", "+00:00")).timestamp()
        made = decided - fd["queue_time"] / 1000.0
        times.append((made, (got - made) * 1000))
    start = min(t for t, _ in times) + 3.0
    lat = [ms for t, ms in times if t >= start]
    p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)
    print(
        f"  latency     {env.name:<9} 1 processor at {rate:,.0f} tx/s: produce -> decision"
        f" readable p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(lat):.1f} ms"
        f" ({len(lat):,} events; {load()})",
        flush=True,
    )
    return {"p50": p50, "p99": p99}


def recovery(env: Env, n: int) -> dict[str, Any]:
    url, home, topics, prefix = env.fresh("rec")
    ids: set[bytes] = set()
    with open_transport(url) as transport:
        ensure_topics(transport, PARTITIONS, topics)
        backlog(url, topics, n)
        first = processor(url, home, prefix, "p0", env.tmp / f"{prefix}first.log")
        wait_for(lambda: total(transport, topics.processed) >= 2000, "first outputs")
        first.stop(signal.SIGKILL)
        written = total(transport, topics.processed)

        def note(message: Any) -> None:
            found = EVENT_ID.search(message.value)
            if found:
                ids.add(found.group(1))

        reader = Reader(url, topics.processed, note)
        wait_for(lambda: reader.ok() and len(ids) >= written * 0.95, "reader to catch up", 120)
        restarted = time.monotonic()
        second = processor(url, home, prefix, "p0", env.tmp / f"{prefix}second.log")
        try:
            first_out = wait_for(lambda: total(transport, topics.processed) > written, "output")
            caught_up = wait_for(lambda: reader.ok() and len(ids) >= n, "caught up", 900)
        finally:
            second.stop()
            reader.stop()
    print(
        f"  recovery    {env.name:<9} kill -9 after {written:,} of {n:,}: restart -> first"
        f" output {first_out - restarted:.1f}s, -> caught up {caught_up - restarted:.1f}s"
        f" ({(n - written) / (caught_up - restarted):,.0f} tx/s incl. start-up; {load()})",
        flush=True,
    )
    return {"first": first_out - restarted, "caught_up": caught_up - restarted}


# --------------------------------------------------------------------------- main


def suite(env: Env, args: argparse.Namespace) -> None:
    only = set(args.only.split(","))
    if "throughput" in only:
        for count in (int(c) for c in args.processors.split(",")):
            throughput(env, args.backlog, count)
    if "live" in only:
        live(env, args.live_rate, args.seconds)
    if "latency" in only:
        latency(env, args.latency_rate, args.seconds)
    if "recovery" in only:
        recovery(env, args.recovery)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=30_000)
    parser.add_argument("--processors", default="1,2")
    parser.add_argument("--live-rate", type=float, default=3000.0)
    parser.add_argument("--latency-rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--recovery", type=int, default=100_000)
    parser.add_argument("--no-kafka", action="store_true")
    parser.add_argument("--no-embedded", action="store_true")
    parser.add_argument("--kafka", default=None, help="noida (default), tansu or host:port")
    parser.add_argument("--only", default="throughput,live,latency,recovery")
    parser.add_argument("--show-logs", action="store_true", help="print the processors' logs")
    parser.add_argument(
        "--exactly-once", action="store_true", help="run the processors with --exactly-once"
    )
    args = parser.parse_args()
    global SHOW_LOGS, EXACTLY_ONCE
    SHOW_LOGS = args.show_logs
    EXACTLY_ONCE = args.exactly_once
    mode = "exactly-once" if EXACTLY_ONCE else "at-least-once"
    print(f"{os.cpu_count()} CPUs, {load()}; processors {mode}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as name:
        tmp = Path(name)
        started = time.monotonic()
        trained = train_default_detector(tmp / "detector")
        print(f"trained the default detector in {time.monotonic() - started:.1f}s", flush=True)
        if not args.no_embedded:
            suite(
                Env("embedded", lambda run: f"embedded:{tmp / run / 'log.db'}?session_timeout=3",
                    trained, tmp),
                args,
            )  # fmt: skip
        if args.no_kafka:
            return
        (tmp / "kafka").mkdir()
        with running_broker(args.kafka, tmp / "kafka") as broker:
            url = f"kafka://{broker.bootstrap}?{urlencode(KAFKA_CONFIG)}"
            suite(Env(f"kafka/{broker.kind}", lambda run: url, trained, tmp), args)


if __name__ == "__main__":
    main()
