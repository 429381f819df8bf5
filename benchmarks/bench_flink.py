"""The Flink job next to the Python processor, on the same broker and the same input.

    .venv/bin/python benchmarks/bench_flink.py [--backlog 20000] [--parallelism 1,2]
        [--latency-rate 100] [--seconds 20] [--kafka noida|tansu|host:port]
        [--bundle-time-ms 10] [--only throughput,latency]

Needs ``scripts/flink-deps.sh``. A default detector is trained here on a small simulated
history; one broker is started the way the test fixture does (noida by default). For both the
Flink job (``fraudstream.stream.flink``, local mini-cluster, at-least-once) and the Python
processor (``benchmarks/bench_pipeline.py``'s processes, at-least-once, batch 500):

* throughput: a backlog of ``--backlog`` transactions on 4 partitions drained; outputs/s
  between 5% and 95% of the outputs (start-up excluded), the wall time including start-up, and
  the peak resident memory of all the job's processes (JVM, Python workers, client);
* latency: the producer (``fraudstream produce``, its own process) at ``--latency-rate`` for
  ``--seconds`` against a running job / processor; for each event, the time from its input
  record's Kafka timestamp (set at ``produce()``) to its decision being readable in
  ``processed_transactions`` (a reader in this process, which includes its poll delay),
  p50/p99 after a 3 s warm-up.

Two cores are shared by everything here (broker, producer, JVM, Python workers, reader): the
numbers are this machine's, printed with the load average.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))

from bench_pipeline import (  # noqa: E402  (the Python processor, run as its benchmark does)
    EVENT_ID,
    KAFKA_CONFIG,
    PARTITIONS,
    backlog,
    load,
    percentile,
    processor,
    producer_cli,
    total,
    wait_assigned,
    wait_for,
)
from fixtures.detector import copy_registry, train_default_detector  # noqa: E402
from fixtures.kafka_broker import running_broker  # noqa: E402
from fraudstream.stream.flink.deps import find_flink_deps  # noqa: E402
from fraudstream.stream.flink.launcher import LocalJob  # noqa: E402
from fraudstream.stream.flink.settings import FlinkSettings, WorkerSettings  # noqa: E402
from fraudstream.stream.topics import Topics, ensure_topics  # noqa: E402
from fraudstream.stream.transport import open_transport  # noqa: E402

BUNDLE_TIME_MS = 10
CHECKPOINT_MS = 10_000
#: Seconds between the job's submission and the latency run (its operators start meanwhile).
WARMUP_S = 15.0


class Run:
    """One scenario's fresh topics, home (a copy of the trained registry) and folder."""

    def __init__(self, trained: Path, tmp: Path, label: str) -> None:
        name = f"{label}-{uuid.uuid4().hex[:6]}"
        self.dir = tmp / name
        self.home = copy_registry(trained, self.dir / "home")
        self.prefix = f"{name}-"
        self.topics = Topics.prefixed(self.prefix)


def flink_job(
    url: str, run: Run, parallelism: int, bounded: dict[int, int] | None, mode: str
) -> LocalJob:
    settings = FlinkSettings(
        broker=url,
        worker=WorkerSettings(registry=str(run.home / "registry.db"), topics=run.topics),
        group_id="bench-flink",
        parallelism=parallelism,
        start="earliest",
        bounded=bounded,
        bundle_time_ms=BUNDLE_TIME_MS,
        checkpoint_interval_ms=CHECKPOINT_MS,
        execution_mode=mode,  # type: ignore[arg-type]
        flink_config={"restart-strategy.type": "none"},
    )
    return LocalJob(settings, log=run.dir / "flink.log", log_dir=run.dir / "jvm")


class PeakMemory:
    """Samples the resident memory of a job's processes every 0.5 s in a thread."""

    def __init__(self, job: LocalJob) -> None:
        self.job = job
        self.peak = 0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            procs = self.job.processes()
            self.peak = max(self.peak, sum(procs.values()))
            self.processes = max(self.processes, len(procs))

    def stop(self) -> str:
        self._stop.set()
        self._thread.join(5)
        return f"peak {self.peak / 2**20:,.0f} MiB RSS in {self.processes} processes"


# --------------------------------------------------------------------------- throughput


def throughput_flink(
    url: str, trained: Path, tmp: Path, n: int, parallelism: int, mode: str
) -> None:
    run = Run(trained, tmp, f"tpf{parallelism}{mode[0]}")
    with open_transport(url) as transport:
        ensure_topics(transport, PARTITIONS, run.topics)
        produced_per_s = backlog(url, run.topics, n)
        ends = transport.end_offsets(run.topics.transactions)
        started = time.monotonic()
        job = flink_job(url, run, parallelism, ends, mode)
        memory = PeakMemory(job)
        try:
            submitted = job.wait_running(300)
            t_first = wait_for(lambda: total(transport, run.topics.processed) > 0, "first")
            t5 = wait_for(lambda: total(transport, run.topics.processed) >= 0.05 * n, "5%")
            t95 = wait_for(lambda: total(transport, run.topics.processed) >= 0.95 * n, "95%")
            job.wait(900)
            ended = time.monotonic()
        finally:
            mem = memory.stop()
            job.stop()
    rate = 0.9 * n / (t95 - t5)
    print(
        f"  throughput  flink {mode:<7}  parallelism {parallelism}: {rate:>7,.0f} tx/s"
        f"  (backlog {n:,} produced at {produced_per_s:,.0f}/s; job submitted after"
        f" {submitted:.1f}s, first output {t_first - started:.1f}s, all done {ended - started:.1f}s"
        f" incl. start-up; {mem}; {load()})",
        flush=True,
    )


def throughput_python(url: str, trained: Path, tmp: Path, n: int, processors: int) -> None:
    run = Run(trained, tmp, f"tpp{processors}")
    with open_transport(url) as transport:
        ensure_topics(transport, PARTITIONS, run.topics)
        produced_per_s = backlog(url, run.topics, n)
        started = time.monotonic()
        procs = [
            processor(url, run.home, run.prefix, f"p{i}", run.dir / f"p{i}.log")
            for i in range(processors)
        ]
        try:
            t_first = wait_for(lambda: total(transport, run.topics.processed) > 0, "first")
            t5 = wait_for(lambda: total(transport, run.topics.processed) >= 0.05 * n, "5%")
            t95 = wait_for(lambda: total(transport, run.topics.processed) >= 0.95 * n, "95%")
            done = wait_for(lambda: total(transport, run.topics.processed) >= n, "all")
        finally:
            for p in procs:
                p.stop()
    rate = 0.9 * n / (t95 - t5)
    print(
        f"  throughput  python     {processors} processor(s):  {rate:>7,.0f} tx/s"
        f"  (backlog {n:,} produced at {produced_per_s:,.0f}/s; first output"
        f" {t_first - started:.1f}s, all done {done - started:.1f}s incl. start-up; {load()})",
        flush=True,
    )


# --------------------------------------------------------------------------- latency


def _latencies(
    produced: dict[bytes, float], decided: dict[bytes, float]
) -> tuple[float, float, float, int]:
    """Per event id: decision readable - input produced, in ms (after a 3 s warm-up)."""
    start = min(produced.values()) + 3.0
    lat = [(decided[e] - t) * 1000 for e, t in produced.items() if t >= start and e in decided]
    return percentile(lat, 0.5), percentile(lat, 0.99), max(lat), len(lat)


def _measure(url: str, run: Run, rate: float, seconds: float) -> tuple[float, float, float, int]:
    """Produce at ``rate`` for ``seconds`` and time every decision (something is scoring):
    from the input record's Kafka timestamp (set by the producer at ``produce()``) to the
    decision being read here."""
    produced: dict[bytes, float] = {}
    decided: dict[bytes, float] = {}
    stop = threading.Event()
    topics = [run.topics.transactions, run.topics.processed]
    with open_transport(url) as transport:

        def read() -> None:
            with transport.consumer(f"reader-{uuid.uuid4().hex[:6]}", topics) as c:
                while not stop.is_set():
                    for m in c.poll(max_messages=1000, timeout=0.05):
                        now = time.time()
                        found = EVENT_ID.search(m.value)
                        if found is None:
                            continue
                        if m.topic == run.topics.processed:
                            decided[found.group(1)] = now
                        else:
                            produced[found.group(1)] = m.timestamp_ms / 1000.0

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            time.sleep(1.5)  # the reader joined its group
            prod = producer_cli(url, run.home, run.prefix, rate, seconds, run.dir / "prod.log")
            prod.proc.wait(seconds + 60)
            prod.stop()
            count = total(transport, run.topics.transactions)
            wait_for(lambda: len(decided) >= count, "every decision", 180)
        finally:
            stop.set()
            reader.join(10)
    return _latencies(produced, decided)


def latency_flink(
    url: str, trained: Path, tmp: Path, rate: float, seconds: float, mode: str
) -> None:
    run = Run(trained, tmp, f"latf{mode[0]}")
    with open_transport(url) as transport:
        ensure_topics(transport, PARTITIONS, run.topics)
    job = flink_job(url, run, 1, None, mode)
    try:
        job.wait_running(300)
        time.sleep(WARMUP_S)  # the Python workers are up and the source found its partitions
        p50, p99, worst, count = _measure(url, run, rate, seconds)
    finally:
        job.stop()
    print(
        f"  latency     flink {mode:<7}  parallelism 1 at {rate:,.0f} tx/s: produced -> decision"
        f" readable p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms ({count:,} events;"
        f" bundle time {BUNDLE_TIME_MS} ms; {load()})",
        flush=True,
    )


def latency_python(url: str, trained: Path, tmp: Path, rate: float, seconds: float) -> None:
    run = Run(trained, tmp, "latp")
    with open_transport(url) as transport:
        ensure_topics(transport, PARTITIONS, run.topics)
    proc = processor(url, run.home, run.prefix, "p0", run.dir / "p0.log")
    try:
        wait_assigned([proc])
        p50, p99, worst, count = _measure(url, run, rate, seconds)
    finally:
        proc.stop()
    print(
        f"  latency     python     1 processor at {rate:,.0f} tx/s:   produced -> decision"
        f" readable p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms ({count:,} events;"
        f" {load()})",
        flush=True,
    )


# --------------------------------------------------------------------------- main


def main() -> None:
    global BUNDLE_TIME_MS, CHECKPOINT_MS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--parallelism", default="1,2")
    parser.add_argument("--latency-rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--kafka", default=None, help="noida (default), tansu or host:port")
    parser.add_argument("--bundle-time-ms", type=int, default=BUNDLE_TIME_MS)
    parser.add_argument("--checkpoint-ms", type=int, default=CHECKPOINT_MS)
    parser.add_argument("--only", default="throughput,latency")
    parser.add_argument("--modes", default="process,thread", help="PyFlink execution modes")
    parser.add_argument("--no-python", action="store_true", help="skip the Python processor")
    args = parser.parse_args()
    # A SIGTERM unwinds like Ctrl-C, so the jobs, processors and broker started here stop too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    BUNDLE_TIME_MS = args.bundle_time_ms
    CHECKPOINT_MS = args.checkpoint_ms
    deps = find_flink_deps()
    only = set(args.only.split(","))
    print(f"{os.cpu_count()} CPUs, {load()}; Flink Python {deps.python}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-flink-") as name:
        tmp = Path(name)
        started = time.monotonic()
        trained = train_default_detector(tmp / "detector")
        print(f"trained the default detector in {time.monotonic() - started:.1f}s", flush=True)
        (tmp / "kafka").mkdir()
        with running_broker(args.kafka, tmp / "kafka") as broker:
            url = f"kafka://{broker.bootstrap}?{urlencode(KAFKA_CONFIG)}"
            print(f"broker: {broker.kind} at {broker.bootstrap}", flush=True)
            levels = [int(p) for p in args.parallelism.split(",")]
            modes = args.modes.split(",")
            if "throughput" in only:
                for level in levels:
                    if not args.no_python:
                        throughput_python(url, trained, tmp, args.backlog, level)
                    for mode in modes:
                        throughput_flink(url, trained, tmp, args.backlog, level, mode)
            if "latency" in only:
                if not args.no_python:
                    latency_python(url, trained, tmp, args.latency_rate, args.seconds)
                for mode in modes:
                    latency_flink(url, trained, tmp, args.latency_rate, args.seconds, mode)


if __name__ == "__main__":
    main()
