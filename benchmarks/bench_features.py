"""Feature extraction speed: online per-event latency and offline replay throughput.

    .venv/bin/python benchmarks/bench_features.py [--entities 20000] [--online 200000]
                                                  [--replay 1000000] [--redis]

Online: ``FeatureExtractor.process`` with a ``MemoryStateStore`` after a warm-up that gives
entities history (steady state, not cold start), timed per event -> p50/p99/p99.9.
Replay: ``build_training_matrix`` over a lazily generated stream; the generator's own cost is
measured separately and reported, so the feature cost is visible on its own.
``--redis`` also times ``process`` against a throw-away local redis-server.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import numpy as np

from fraudstream.detector.features import (
    TRANSACTION_SCHEMA,
    FeatureExtractor,
    MemoryStateStore,
    RedisStateStore,
    StateStore,
    build_training_matrix,
    fit_vocabulary,
)
from fraudstream.events import PRODUCT_CATEGORIES, Event

START = 1_700_000_000.0
STATES = ("CA", "NY", "TX", "FL", "WA", "IL", "PA", "OH", "GA", "NC")


def generate(n: int, entities: int, seed: int = 7, rate_per_s: float = 2.0) -> Iterator[Event]:
    """Time-ordered transactions of ``entities`` customers (lazy: 1M events fit in no memory).

    Each customer has a home, e-mail, one or two IPs, a device, a card BIN, a spending level
    and an activity level (lognormal: a few customers are 50x busier than the median); ~2% of
    events come from a "takeover" (one of 50 hot IPs, new device, far away, big amount).
    """
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.2, entities)
    activity /= activity.sum()
    lat = rng.uniform(25, 48, entities)
    lon = rng.uniform(-123, -70, entities)
    mu = rng.normal(3.5, 0.8, entities)
    bins = rng.integers(400000, 400300, entities)
    state = rng.integers(0, len(STATES), entities)
    chunk = 65536
    t = START
    produced = 0
    while produced < n:
        size = min(chunk, n - produced)
        gaps = rng.exponential(1.0 / rate_per_s, size)
        who = rng.choice(entities, size, p=activity)
        amounts = np.round(np.exp(mu[who] + rng.normal(0, 0.6, size)), 2)
        takeover = rng.random(size) < 0.02
        second_ip = rng.random(size) < 0.2
        cats = rng.integers(0, len(PRODUCT_CATEGORIES), size)
        jitter = rng.normal(0, 0.05, (size, 2))
        for i in range(size):
            t += float(gaps[i])
            c = int(who[i])
            bad = bool(takeover[i])
            ip_host = 1000 + c if not bad else 900000 + i % 50
            if second_ip[i]:
                ip_host += 7
            yield Event(
                event_id=f"ev-{produced + i}",
                entity_type="customer",
                entity_id=f"cust-{c}",
                event_time=t,
                variables={
                    "transaction_amt": float(amounts[i]) * (20.0 if bad else 1.0),
                    "email_address": f"user{c}@example.com",
                    "ip_address": f"10.{ip_host >> 16 & 255}.{ip_host >> 8 & 255}.{ip_host & 255}",
                    "user_agent": f"agent-{c % 97}" if not bad else "curl/8.0",
                    "product_category": PRODUCT_CATEGORIES[int(cats[i])],
                    "billing_latitude": float(lat[c] + jitter[i, 0]) if not bad else 51.5,
                    "billing_longitude": float(lon[c] + jitter[i, 1]) if not bad else -0.12,
                    "card_bin": int(bins[c]),
                    "transaction_currency": "USD",
                    "billing_state": STATES[int(state[c])],
                },
            )
        produced += size


def percentiles(samples: list[float]) -> str:
    micros = np.array(samples) * 1e6
    p50, p99, p999 = np.percentile(micros, [50, 99, 99.9])
    return (
        f"p50 {p50:6.1f} us   p99 {p99:6.1f} us   p99.9 {p999:7.1f} us   "
        f"mean {micros.mean():6.1f} us"
    )


def time_online(extractor: FeatureExtractor, store: StateStore, events: list[Event]) -> str:
    clock = time.perf_counter
    process = extractor.process
    samples = []
    for event in events:
        start = clock()
        process(event, store)
        samples.append(clock() - start)
    return percentiles(samples)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=200_000)
    parser.add_argument("--online", type=int, default=100_000)
    parser.add_argument("--replay", type=int, default=1_000_000)
    parser.add_argument("--redis", action="store_true", help="also time RedisStateStore")
    args = parser.parse_args()

    sample = list(generate(50_000, args.entities, seed=1))
    extractor = FeatureExtractor(TRANSACTION_SCHEMA, fit_vocabulary(sample, TRANSACTION_SCHEMA))
    print(f"{len(extractor.feature_names)} features, {args.entities} entities")

    events = list(generate(args.warmup + args.online, args.entities, seed=2))
    warm, timed = events[: args.warmup], events[args.warmup :]
    store = MemoryStateStore()
    for event in warm:
        extractor.process(event, store)
    print(
        f"online  MemoryStateStore  ({len(timed)} events): {time_online(extractor, store, timed)}"
    )
    sizes = [len(state.to_bytes()) for _, state in store.items()]
    print(
        f"state   {len(sizes)} keys, serialised bytes: mean {np.mean(sizes):.0f}, "
        f"p99 {np.percentile(sizes, 99):.0f}, max {max(sizes)}"
    )

    if args.redis:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            server = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", tmp],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                time.sleep(0.5)
                with RedisStateStore(f"redis://127.0.0.1:{port}/0") as redis_store:
                    for event in warm[-20_000:]:
                        extractor.process(event, redis_store)
                    result = time_online(extractor, redis_store, timed[:20_000])
                    print(f"online  RedisStateStore   (20000 events): {result}")
            finally:
                server.terminate()
                server.wait(10)

    del events, warm, timed, store
    start = time.perf_counter()
    for _ in generate(args.replay, args.entities, seed=3):
        pass
    generation = time.perf_counter() - start
    start = time.perf_counter()
    matrix = build_training_matrix(generate(args.replay, args.entities, seed=3), extractor)
    total = time.perf_counter() - start
    features = total - generation
    rows, width = matrix.shape
    print(
        f"replay  {rows} events x {width} features: {total:.1f} s total, "
        f"{generation:.1f} s generating events, {features:.1f} s features "
        f"({rows / features:,.0f} events/s, {features / rows * 1e6:.1f} us/event)"
    )


if __name__ == "__main__":
    main()
