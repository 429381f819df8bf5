"""Realistic decision records without a trained detector, for demos, benchmarks and tests.

Simulator transactions (:func:`~fraudstream.simulate.generate_history`, with their ground truth)
are turned into ``processed_transactions`` records by the processor's own record builder
(:func:`~fraudstream.stream.records.decision_output`), with a synthetic prediction shaped like
:meth:`~fraudstream.detector.prediction.Prediction.to_dict`: a 0-1000 score that is high for
most fraud and low for most legitimate payments, the default detector's three score-band rules
(review >= 700, block >= 900), top reasons for flagged decisions, and plausible latencies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import orjson

from fraudstream.events import format_time, parse_transaction
from fraudstream.simulate import Truth, generate_history
from fraudstream.stream.records import decision_output
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport import Message, Producer

__all__ = ["BLOCK_AT", "REVIEW_AT", "SampleDecision", "produce_samples", "sample_decisions"]

REVIEW_AT: Final = 700.0
BLOCK_AT: Final = 900.0
SCORE_NAME: Final = "fraudstream_model_insightscore"
_FEATURES: Final = (
    "amount_vs_customer_mean",
    "seconds_since_last_transaction",
    "new_ip_for_customer",
    "distance_from_home_km",
    "transactions_last_hour",
)


@dataclass(frozen=True, slots=True)
class SampleDecision:
    """A decision record (``record``; ``value`` is its JSON) and its ground truth."""

    record: dict[str, Any]
    value: bytes
    key: bytes
    truth: Truth

    @property
    def event_id(self) -> str:
        return str(self.record["event_id"])

    def truth_value(self) -> bytes:
        """The ``simulator_truth`` message the producer writes for this event."""
        return orjson.dumps(
            {
                "event_id": self.record["event_id"],
                "entity_id": self.record["entity_id"],
                "event_time": self.record["event_time"],
                "is_fraud": self.truth.is_fraud,
                "fraud_kind": None if self.truth.kind is None else str(self.truth.kind),
            }
        )


def _prediction(score: float, rng: np.random.Generator) -> dict[str, Any]:
    if score >= BLOCK_AT:
        rule, outcome = "block_high_risk", "block"
    elif score >= REVIEW_AT:
        rule, outcome = "review_medium_risk", "review"
    else:
        rule, outcome = "approve_low_risk", "approve"
    reasons: list[dict[str, Any]] = []
    if outcome != "approve":
        impacts = sorted((round(float(rng.uniform(0.2, 2.5)), 4) for _ in range(3)), reverse=True)
        features = rng.choice(_FEATURES, size=3, replace=False)
        reasons = [
            {"feature": str(f), "value": round(float(rng.gamma(2.0, 3.0)), 3), "impact": i}
            for f, i in zip(features, impacts, strict=True)
        ]
    return {
        "outcome": outcome,
        "outcomes": [outcome],
        "scores": {SCORE_NAME: score},
        "rules": [{"rule_id": rule, "rule_version": "1", "outcomes": [outcome]}],
        "reasons": reasons,
        "detector_id": "fraudstream_detector",
        "detector_version_id": "1",
        "model_versions": ["fraudstream_model:1.0"],
        "duplicate": False,
    }


def sample_decisions(
    n: int,
    *,
    seed: int = 0,
    fraud_rate: float = 0.05,
    end: float | None = None,
    days: float = 1.0,
    topic: str = "processed_transactions",
) -> list[SampleDecision]:
    """``n`` decisions over ``days`` days ending at ``end`` (epoch seconds; default: the
    simulator's fixed end date), reproducible for a seed."""
    history = generate_history(n, seed=seed, fraud_rate=fraud_rate, days=max(days, 1.0))
    records = list(history.iter_labelled())
    times = [parse_transaction(rec).event_time.timestamp() for rec, _ in records]
    if end is not None and records:
        # Move (and, below one day, squeeze) the history so it ends at ``end``, order kept.
        first, last = times[0], times[-1]
        scale = min(days * 86400.0 / max(last - first, 1e-9), 1.0)
        times = [end - (last - t) * scale for t in times]
        records = [
            ({**rec, "event_time": format_time(t)}, truth)
            for (rec, truth), t in zip(records, times, strict=True)
        ]
    rng = np.random.default_rng([seed, 77])
    # Its own stream, so adding log append times left every other drawn value as it was.
    append_rng = np.random.default_rng([seed, 78])
    out: list[SampleDecision] = []
    for offset, (raw, truth) in enumerate(records):
        tx = parse_transaction(raw)
        if truth.is_fraud:
            score = float(np.clip(rng.normal(900, 90), 0, 1000))
        else:
            score = float(np.clip(rng.gamma(2.0, 90.0), 0, 1000))
        score = float(math.floor(score))
        event_time = tx.event_time.timestamp()
        started = event_time + float(rng.lognormal(math.log(0.008), 0.5))
        scoring_ms = float(rng.lognormal(math.log(1.5), 0.4))
        # The producer appends the transaction to the log between its event time and the
        # start of scoring, so queue_time (append -> decision) is a part of ttdf.
        appended = event_time + (started - event_time) * float(append_rng.uniform(0.1, 0.6))
        source = Message(
            "transactions",
            0,
            offset,
            tx.entity_id.encode(),
            b"",
            timestamp_ms=round(appended * 1000.0),
        )
        output = decision_output(
            topic,
            source,
            tx,
            _prediction(score, rng),
            started=started,
            finished=started + scoring_ms / 1000.0,
            scoring_ms=scoring_ms,
        )
        out.append(
            SampleDecision(orjson.loads(output.value), output.value, output.key or b"", truth)
        )
    return out


def produce_samples(
    producer: Producer,
    samples: Sequence[SampleDecision],
    topics: Topics | None = None,
    *,
    truth: bool = True,
) -> None:
    """Write the decisions (and their truth) to the pipeline's topics, then flush."""
    topics = topics or Topics()
    for sample in samples:
        producer.produce(topics.processed, sample.value, key=sample.key)
        if truth:
            producer.produce(topics.truth, sample.truth_value(), key=sample.key)
    producer.flush()
