"""Model quality on live-generated traffic, after training on the generated history.

The quality target is measured on a held-out part of the history; the demo and the pipeline
score the live generator's stream instead. If the two are not drawn alike, thresholds chosen on
the history flag more live traffic than the calibration promises (600 ~ 10%, 900 ~ 2% of
legitimate events). This prints how far apart they are.

    python benchmarks/bench_live_quality.py [--history 100000] [--live 20000]
        [--time-scale demo|natural|N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from fraudstream.cli.demo import time_scale
from fraudstream.cli.demo_setup import DemoSetup, prepare
from fraudstream.detector import Engine
from fraudstream.detector.defaults import DETECTOR_ID
from fraudstream.events import parse_transaction
from fraudstream.simulate import FakeClock, LiveGenerator, build_population

RATE = 50.0  # the demo's rate: only the simulated seconds per event matter here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--live", type=int, default=20_000)
    parser.add_argument("--time-scale", default="demo", help="demo, natural or a number")
    parser.add_argument("--no-bursts", action="store_true", help="steady rate, no bursts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        setup, summary = prepare(
            home, DemoSetup(customers=args.customers, history_events=args.history)
        )
        assert summary is not None
        metrics = summary["metrics"]
        print(
            f"history {args.history:,} events: held-out AUC {metrics['auc']:.4f}, "
            f"recall at 1% FPR {metrics['recall_at_fpr']['1%']:.3f}"
        )
        scale = {"demo": time_scale(setup, RATE), "natural": "natural"}.get(
            args.time_scale, args.time_scale
        )
        clock = FakeClock(setup.history_end)
        live = LiveGenerator(
            RATE,
            **({"burst": None} if args.no_bursts else {}),
            seed=123,
            population=build_population(setup.customers, setup.seed),
            clock=clock.time,
            sleep=clock.sleep,
            limit=args.live,
            time_scale=scale if scale == "natural" else float(scale),
        )
        pairs = [(parse_transaction(record).to_event(), truth) for record, truth in live]
        engine = Engine.open(home, explain="none")
        try:
            # learn: each event counts in the state, as in the stream; nothing is stored.
            events = [e for e, _ in pairs]
            predictions = [engine.predict(e, DETECTOR_ID, store=False, learn=True) for e in events]
            scores = np.array([next(iter(p.scores.values())) for p in predictions])
        finally:
            engine.close()
        fraud = np.array([t.is_fraud for _, t in pairs])
        days = (pairs[-1][0].event_time - pairs[0][0].event_time) / 86_400
        print(
            f"live {len(pairs):,} events over {days:.1f} simulated days "
            f"(time scale {args.time_scale}{', no bursts' if args.no_bursts else ''}), "
            f"{int(fraud.sum())} fraud: "
            f"AUC {roc_auc_score(fraud, scores):.4f}"
        )
        for threshold, promised in ((600, 0.10), (900, 0.02), (990, 0.001)):
            print(
                f"  score >= {threshold}: {(scores[~fraud] >= threshold).mean():.2%} of legit "
                f"(calibration: {promised:.1%}), {(scores[fraud] >= threshold).mean():.1%} "
                "of fraud"
            )


if __name__ == "__main__":
    main()
