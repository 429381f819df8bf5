"""Decisions per second written by the SQLite and PostgreSQL stores through the sink consumer.

    .venv/bin/python benchmarks/bench_sinks.py [--decisions 30000] [--batch-size 500]
        [--stores sqlite,postgres] [--truth]

A backlog of ``--decisions`` realistic decision records (:mod:`fraudstream.sinks.samples`) is
written to ``processed_transactions`` on the embedded log (4 partitions); then, for each store,
a :class:`~fraudstream.sinks.consumer.SinkConsumer` in a new group drains it into a fresh store
(SQLite file in a temporary folder, WAL, synchronous=NORMAL; PostgreSQL started here like the
test fixture, with fsync and synchronous_commit ON). Reported: decisions/s end to end (poll +
parse + write + commit, from the first poll to the last commit), and the store's own share
(seconds inside ``write``). Target: >= 3,000/s each on the 2-core machine. The load average
is printed because other work on the machine changes the numbers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # for fixtures.postgres_server

from fixtures.postgres_server import running_postgres  # noqa: E402
from fraudstream.sinks import SinkConsumer, SinkSettings, open_store  # noqa: E402
from fraudstream.sinks.samples import produce_samples, sample_decisions  # noqa: E402
from fraudstream.stream.topics import Topics, ensure_topics  # noqa: E402
from fraudstream.stream.transport import Transport, open_transport  # noqa: E402

TARGET = 3000.0


def drain(
    transport: Transport, spec: str, home: Path, group: str, args: argparse.Namespace
) -> None:
    store = open_store(spec, home)
    settings = SinkSettings(
        group_id=group, batch_size=args.batch_size, max_delay=1.0, poll_timeout=0.05,
        truth=args.truth, summary_every=0,
    )  # fmt: skip
    expected = args.decisions * (2 if args.truth else 1)
    with SinkConsumer(transport, store, settings) as consumer:
        started = time.perf_counter()
        consumer.run(max_records=expected)
        elapsed = time.perf_counter() - started
    stats = consumer.stats
    count = store.count()
    store.close()
    rate = stats.written / elapsed
    verdict = "ok" if rate >= TARGET else f"BELOW the {TARGET:.0f}/s target"
    print(
        f"  {spec.split(':')[0]:<10} {stats.written:>7} decisions in {elapsed:6.2f} s ="
        f" {rate:8.0f}/s end to end; store writes {stats.write_seconds:5.2f} s"
        f" ({stats.written / max(stats.write_seconds, 1e-9):8.0f}/s), {stats.batches} batches"
        f"  [{verdict}]"
    )
    assert count == args.decisions, f"{count} stored, expected {args.decisions}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--truth", action="store_true", help="Also store simulator_truth.")
    args = parser.parse_args()
    stores = args.stores.split(",")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    t0 = time.perf_counter()
    samples = sample_decisions(args.decisions, seed=1, fraud_rate=0.05, days=3.0)
    print(f"built {len(samples)} decision records in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory(prefix="bench-sinks-") as tmp:
        root = Path(tmp)
        with open_transport(f"embedded:{root / 'log.db'}") as transport:
            ensure_topics(transport, 4, Topics())
            t0 = time.perf_counter()
            with transport.producer() as producer:
                produce_samples(producer, samples, truth=args.truth)
            print(f"backlog written in {time.perf_counter() - t0:.1f} s; draining it:")
            if "sqlite" in stores:
                drain(transport, f"sqlite:{root / 'decisions.db'}", root, "bench-sqlite", args)
            if "postgres" in stores:
                with running_postgres(durable=True) as server:
                    drain(transport, server.create_database("bench"), root, "bench-pg", args)


if __name__ == "__main__":
    main()
