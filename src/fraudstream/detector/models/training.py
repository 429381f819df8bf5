"""Train a gradient-boosted tree model with a time-based split, calibrate it, measure it.

LightGBM: measured here at about 24 us per single-row prediction on one thread, and it trains on a
million rows in well under the 3-minute budget on two cores (see benchmarks/bench_training.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from fraudstream.detector.models.calibration import ScoreCalibrator
from fraudstream.detector.models.metrics import evaluate
from fraudstream.detector.models.model import TrainedModel
from fraudstream.errors import InvalidInput

#: Like AFD: validate on the last 15% of the data (by time), never on shuffled rows.
VALIDATION_SHARE = 0.15
#: Of the training part, the last slice decides when to stop adding trees.
EARLY_STOPPING_SHARE = 0.10

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "metric": "auc",
    "verbose": -1,
}
MAX_ROUNDS = 400

MIN_EVENTS = 100
MIN_FRAUD = 10


def train(
    matrix: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int_],
    event_times: npt.NDArray[np.float64],
    feature_names: Sequence[str],
    categorical: Sequence[str] = (),
    *,
    extractor_config: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    threads: int = 2,
    on_round: Callable[[int, int], None] | None = None,
) -> TrainedModel:
    """Train on the earlier 85% of events (by time), calibrate and evaluate on the later 15%.

    The number of trees is chosen by early stopping on the last tenth of the training period;
    the model is then trained again with that many trees on the whole training period.
    """
    n = labels.size
    if matrix.shape != (n, len(feature_names)):
        raise InvalidInput(f"matrix shape {matrix.shape} does not match {n} labels")
    if n < MIN_EVENTS or labels.sum() < MIN_FRAUD or (n - labels.sum()) < MIN_FRAUD:
        raise InvalidInput(
            f"training needs at least {MIN_EVENTS} events with {MIN_FRAUD}+ fraud and "
            f"{MIN_FRAUD}+ legitimate ones; got {n} events, {int(labels.sum())} fraud"
        )
    order = np.argsort(event_times, kind="stable")
    matrix, labels = matrix[order], labels[order]
    cut = int(n * (1 - VALIDATION_SHARE))
    stop = int(cut * (1 - EARLY_STOPPING_SHARE))
    for name, part in (("validation", labels[cut:]), ("training", labels[:stop])):
        if part.min() == part.max():
            raise InvalidInput(f"the {name} period has only one label; add more labelled history")

    cat_idx = [list(feature_names).index(c) for c in categorical]
    merged = {**DEFAULT_PARAMS, **(params or {}), "seed": seed, "num_threads": threads}

    def dataset(rows: slice, ref: lgb.Dataset | None = None) -> lgb.Dataset:
        return lgb.Dataset(
            matrix[rows],
            labels[rows],
            feature_name=list(feature_names),
            categorical_feature=cat_idx or "auto",
            reference=ref,
            free_raw_data=True,
        )

    train_set = dataset(slice(0, stop))
    stop_set = dataset(slice(stop, cut), train_set)
    callbacks: list[Callable[..., None]] = [lgb.early_stopping(40, verbose=False)]
    if on_round is not None:
        callbacks.append(lambda env: on_round(env.iteration + 1, MAX_ROUNDS))
    booster = lgb.train(merged, train_set, MAX_ROUNDS, valid_sets=[stop_set], callbacks=callbacks)
    rounds = booster.best_iteration or booster.current_iteration()
    booster.free_dataset()
    # Early stopping chose how many trees (no more than that: serving costs no more than it
    # must); the final model learns them from the whole training period, early-stopping slice
    # included: it is the most recent data before validation, and rare patterns (the first
    # purchase of a spree...) need every example there is.
    booster = lgb.train(merged, dataset(slice(0, cut)), rounds)
    booster.free_dataset()

    val_raw = np.asarray(booster.predict(matrix[cut:], num_threads=threads), dtype=np.float64)
    val_y = labels[cut:]
    calibrator = ScoreCalibrator.fit(val_raw[val_y == 0])
    metrics = evaluate(val_y, val_raw, calibrator.scores(val_raw))
    metrics["trees"] = booster.num_trees()
    metrics["training_events"] = int(cut)

    gains = booster.feature_importance(importance_type="gain")
    total = float(gains.sum()) or 1.0
    importance = {
        name: round(float(g) / total, 5)
        for name, g in sorted(zip(feature_names, gains, strict=True), key=lambda x: -x[1])
    }
    return TrainedModel(
        booster=booster,
        feature_names=tuple(feature_names),
        calibrator=calibrator,
        metrics=metrics,
        importance=importance,
        extractor_config=extractor_config or {},
    )
