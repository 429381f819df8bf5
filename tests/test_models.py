"""Model training, AFD-style calibration and metrics on data with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.detector.models import TrainedModel, fpr_for_score, score_for_fpr, train
from fraudstream.errors import InvalidInput


def _data(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = ((x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.4, size=n)) > 2.6).astype(np.int_)
    return x, y, np.arange(n, dtype=np.float64)


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    x, y, t = _data()
    return train(x, y, t, [f"f{i}" for i in range(6)], threads=1)


def test_score_anchors_match_afd_documentation() -> None:
    # AFD: "a score of 600 corresponds to an estimated 10% FPR, 900 to 2%".
    assert score_for_fpr(0.10) == pytest.approx(600)
    assert score_for_fpr(0.02) == pytest.approx(900)
    assert fpr_for_score(900) == pytest.approx(0.02)
    assert score_for_fpr(1.0) == 0
    assert score_for_fpr(0.0) == 1000


def test_calibrated_scores_flag_the_promised_share_of_legit_traffic(model: TrainedModel) -> None:
    x, y, _ = _data(seed=1)  # fresh data, same distribution
    scores = model.score_batch(x)
    legit = scores[y == 0]
    assert (legit >= 600).mean() == pytest.approx(0.10, abs=0.02)
    assert (legit >= 900).mean() == pytest.approx(0.02, abs=0.01)
    assert scores.min() >= 0
    assert scores.max() <= 1000


def test_metrics_are_afd_shaped_and_sensible(model: TrainedModel) -> None:
    m = model.metrics
    assert 0.95 < m["auc"] <= 1.0
    assert 0 < m["pr_auc"] <= 1.0
    assert set(m["recall_at_fpr"]) == {"0.5%", "1%", "5%"}
    assert m["recall_at_fpr"]["0.5%"] <= m["recall_at_fpr"]["1%"] <= m["recall_at_fpr"]["5%"]
    tprs = [row["tpr"] for row in m["threshold_table"]]
    assert tprs == sorted(tprs, reverse=True)  # a higher threshold never catches more
    assert sum(m["score_histogram"]["fraud"]) == m["fraud_events"]


def test_single_score_matches_batch_and_survives_serialisation(model: TrainedModel) -> None:
    x, _, _ = _data(200, seed=2)
    again = TrainedModel.from_bytes(model.to_bytes())
    batch = model.score_batch(x)
    assert [model.score(row) for row in x] == list(batch)
    assert list(again.score_batch(x)) == list(batch)


def test_explanations_point_at_the_driving_feature(model: TrainedModel) -> None:
    row = np.array([3.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    reasons = model.explain(row, top=3)
    assert reasons[0].feature == "f0"
    assert reasons[0].impact > 0
    assert reasons[0].direction == "raises risk"


def test_training_refuses_data_without_fraud() -> None:
    x, _, t = _data(1000)
    with pytest.raises(InvalidInput, match="fraud"):
        train(x, np.zeros(1000, dtype=np.int_), t, [f"f{i}" for i in range(6)])


def test_corrupt_artifact_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="not a fraudstream model artifact"):
        TrainedModel.from_bytes(b"garbage")
