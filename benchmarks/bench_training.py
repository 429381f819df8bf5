"""Training on one million simulated events, and model quality on the later, held-out period.

Targets (issue 2): training under 3 minutes on this machine; AUC >= 0.99 and recall >= 0.90 at
1% false positive rate on the held-out later 15% of the data (AFD validates the same way).

    python benchmarks/bench_training.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fraudstream.detector import Engine
from fraudstream.detector.defaults import install_default_detector
from fraudstream.simulate import generate_history, write_afd_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        history = generate_history(args.events, seed=args.seed)
        csv = home / "history.csv"
        write_afd_csv(history, csv)
        t1 = time.perf_counter()
        print(f"simulate + write CSV: {t1 - t0:.1f} s ({history.kind_counts()})")
        phases: dict[str, float] = {}

        def progress(step: str, done: int, total: int) -> None:
            phases.setdefault(step, time.perf_counter())

        engine = Engine.open(home)
        summary = install_default_detector(engine, csv, progress=progress)
        t2 = time.perf_counter()
        engine.close()
        read = phases.get("features", t2) - t1
        features = phases.get("trees", t2) - phases.get("features", t1)
        print(
            f"training from CSV: {t2 - t1:.1f} s (read + type {read:.1f} s, features "
            f"{features:.1f} s, trees and metrics {t2 - phases.get('trees', t2):.1f} s)"
        )
        m = summary["metrics"]
        r = m["recall_at_fpr"]
        print(
            f"held-out later 15%: {m['events']:,} events, {m['fraud_events']:,} fraud; "
            f"AUC {m['auc']:.4f}, PR-AUC {m['pr_auc']:.4f}, recall at 0.5/1/5% FPR "
            f"{r['0.5%']:.3f}/{r['1%']:.3f}/{r['5%']:.3f}; {m['trees']} trees; "
            f"thresholds review>={summary['review_threshold']} block>={summary['block_threshold']}"
        )


if __name__ == "__main__":
    main()
