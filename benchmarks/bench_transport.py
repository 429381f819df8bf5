"""Transport throughput and latency: the embedded SQLite log and Kafka, same workload.

    .venv/bin/python benchmarks/bench_transport.py [--messages 50000] [--size 400]
        [--partitions 4] [--cpu 0] [--no-kafka] [--kafka noida|tansu|host:port]

Workload: ``--messages`` keyed messages of ``--size`` bytes (JSON-like) over ``--partitions``
partitions, keys from 10,000 customers.
* produce: ``produce()`` every message, then ``flush()``; msgs/s over the whole thing.
* consume: one group member ``poll(500)``s everything, committing each batch synchronously.
* pipeline: produce and consume the same messages one after the other (produce+consume msgs/s).
* latency: 200 single messages, each produced, flushed and polled back (p50 / p99 ms).
The process is pinned to one CPU (``--cpu``, Linux) so the numbers are per core; for Kafka the
broker process runs unpinned beside it. The Kafka broker is started here (noida-db by default,
see tests/fixtures/kafka_broker.py) unless ``--kafka host:port`` names a running one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # for fixtures.kafka_broker

from fixtures.kafka_broker import running_broker  # noqa: E402
from fraudstream.stream.transport import Transport  # noqa: E402
from fraudstream.stream.transport.embedded import EmbeddedTransport  # noqa: E402
from fraudstream.stream.transport.kafka import KafkaTransport  # noqa: E402


def payload(i: int, size: int) -> bytes:
    head = f'{{"transaction_id":"{i:012d}","amount":{(i * 37) % 5000 / 10:.2f},"pad":"'.encode()
    return head + b"x" * max(size - len(head) - 2, 0) + b'"}'


def bench(transport: Transport, label: str, n: int, size: int, partitions: int) -> None:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    transport.create_topics([topic], partitions=partitions)
    values = [payload(i, size) for i in range(n)]
    keys = [f"customer-{i % 10_000}".encode() for i in range(n)]

    producer = transport.producer()
    start = time.perf_counter()
    for key, value in zip(keys, values, strict=True):
        producer.produce(topic, value, key=key)
    producer.flush(120)
    produce_s = time.perf_counter() - start
    producer.close()

    consumer = transport.consumer(f"bench-{uuid.uuid4().hex[:8]}", [topic])
    start = time.perf_counter()
    got = 0
    deadline = time.monotonic() + 300
    while got < n and time.monotonic() < deadline:
        batch = consumer.poll(max_messages=500, timeout=1.0)
        if batch:
            consumer.commit(batch)
            got += len(batch)
    consume_s = time.perf_counter() - start
    consumer.close()
    if got != n:
        raise SystemExit(f"{label}: consumed {got} of {n}")

    latencies = []
    lat_topic = f"lat-{uuid.uuid4().hex[:8]}"
    transport.create_topics([lat_topic], partitions=1)
    with transport.producer() as producer, transport.consumer("lat", [lat_topic]) as consumer:
        deadline = time.monotonic() + 60
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(timeout=0.05)
        for i in range(200):
            start = time.perf_counter()
            producer.produce(lat_topic, values[i], key=keys[i])
            producer.flush(10)
            while not (got_back := consumer.poll(max_messages=1, timeout=1.0)):
                pass
            latencies.append((time.perf_counter() - start) * 1000)
            if got_back[0].value != values[i]:
                raise SystemExit(f"{label}: latency probe got the wrong message")
        consumer.commit()
    latencies.sort()

    print(
        f"{label:<10} produce {n / produce_s:>10,.0f} msg/s   consume {n / consume_s:>10,.0f}"
        f" msg/s   produce+consume {n / (produce_s + consume_s):>10,.0f} msg/s   "
        f"latency p50 {statistics.median(latencies):.2f} ms p99 {latencies[197]:.2f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--cpu", type=int, default=0, help="pin to this CPU (-1: don't pin)")
    parser.add_argument("--no-kafka", action="store_true")
    parser.add_argument("--kafka", default=None, help="noida (default), tansu or host:port")
    args = parser.parse_args()
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    print(
        f"{args.messages:,} messages of {args.size} B, {args.partitions} partitions,"
        f" pinned to CPU {args.cpu if args.cpu >= 0 else 'none'}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-transport-") as tmp:
        with EmbeddedTransport(Path(tmp) / "log.db") as embedded:
            bench(embedded, "embedded", args.messages, args.size, args.partitions)
        if args.no_kafka:
            return
        with running_broker(args.kafka, Path(tmp)) as broker:
            config = {"consumer.fetch.wait.max.ms": 10}
            with KafkaTransport(broker.bootstrap, config) as kafka:
                bench(kafka, f"kafka/{broker.kind}", args.messages, args.size, args.partitions)


if __name__ == "__main__":
    main()
