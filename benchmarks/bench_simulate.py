"""Benchmark fraudstream.simulate: history generation, AFD CSV write/read, live generation.

Run: ``python benchmarks/bench_simulate.py [--events 1000000]``. The target is a million events
to a DataFrame in well under a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fraudstream.simulate import (
    FakeClock,
    LiveGenerator,
    build_population,
    generate_history,
    read_afd_csv,
    write_afd_csv,
)
from fraudstream.simulate.population import default_customers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--live-events", type=int, default=100_000)
    args = parser.parse_args()
    n_customers = default_customers(args.events)

    t0 = time.perf_counter()
    build_population(n_customers, args.seed)
    t_pop = time.perf_counter() - t0
    t0 = time.perf_counter()
    history = generate_history(args.events, seed=args.seed)
    t_gen = time.perf_counter() - t0
    total = t_pop + t_gen
    print(f"customers (Faker, once)      {n_customers:>10,}   {t_pop:7.2f} s")
    print(f"history events -> DataFrame  {len(history):>10,}   {t_gen:7.2f} s")
    print(f"  end to end                 {len(history) / total:>10,.0f} events/s  ({total:.2f} s)")
    print(f"  fraud {history.fraud_rate:.3%}: {history.kind_counts()}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.csv"
        t0 = time.perf_counter()
        write_afd_csv(history, path)
        t_write = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        print(f"AFD CSV write                {size_mb:>10,.0f} MB  {t_write:7.2f} s")
        t0 = time.perf_counter()
        back = read_afd_csv(path)
        t_read = time.perf_counter() - t0
        print(f"AFD CSV read                 {len(back):>10,}   {t_read:7.2f} s")

    clock = FakeClock()
    live = LiveGenerator(
        1_000.0,
        seed=args.seed,
        n_customers=n_customers,
        clock=clock.time,
        sleep=clock.sleep,
        limit=args.live_events,
    )
    t0 = time.perf_counter()
    count = sum(1 for _ in live)
    t_live = time.perf_counter() - t0
    print(f"live (fake clock, no waits)  {count:>10,}   {count / t_live:>10,.0f} events/s")


if __name__ == "__main__":
    main()
