"""The one-row fast path must give exactly what LightGBM's own predict gives."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fraudstream.detector.models import TrainedModel, train
from fraudstream.detector.models.single_row import SingleRowPredictor


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5_000, 4))
    y = ((x[:, 0] - x[:, 2] + rng.normal(scale=0.5, size=len(x))) > 2.0).astype(np.int_)
    return train(x, y, np.arange(len(x), dtype=np.float64), ["a", "b", "c", "d"], threads=1)


def _rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.normal(scale=3.0, size=(n, 4))
    rows[rng.random(rows.shape) < 0.2] = np.nan  # missing features take the default branch
    return rows


def test_matches_booster_predict_including_missing_values(model: TrainedModel) -> None:
    rows = _rows(500, seed=1)
    fast = SingleRowPredictor(model.booster, 4)
    expected = model.booster.predict(rows)
    assert [fast.predict(row) for row in rows] == list(expected)


def test_threads_sharing_one_predictor_get_their_own_answers(model: TrainedModel) -> None:
    rows = _rows(2_000, seed=2)
    expected = list(model.booster.predict(rows))
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(model.raw, rows)) == expected


def test_a_row_of_the_wrong_width_is_refused(model: TrainedModel) -> None:
    with pytest.raises(ValueError, match="expected 4 features"):
        model.raw(np.zeros(5))
