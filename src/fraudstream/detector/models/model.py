"""A trained model: LightGBM trees, the score calibrator, metrics and per-prediction reasons."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import orjson

from fraudstream.detector.models.calibration import ScoreCalibrator
from fraudstream.detector.models.single_row import SingleRowPredictor
from fraudstream.errors import InvalidInput

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Reason:
    """One top reason of a prediction: a feature, its value and its push on the risk.

    ``impact`` is the tree-SHAP contribution in log-odds: positive raises the risk.
    """

    feature: str
    value: float | None
    impact: float

    @property
    def direction(self) -> str:
        return "raises risk" if self.impact > 0 else "lowers risk"

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "value": self.value, "impact": round(self.impact, 4)}


@dataclass
class TrainedModel:
    booster: lgb.Booster
    feature_names: tuple[str, ...]
    calibrator: ScoreCalibrator
    metrics: dict[str, Any] = field(default_factory=dict)
    importance: dict[str, float] = field(default_factory=dict)
    #: The feature extractor's configuration, so scoring rebuilds exactly the training features.
    extractor_config: dict[str, Any] = field(default_factory=dict)
    _single_row: SingleRowPredictor | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def raw(self, vector: npt.NDArray[np.float64]) -> float:
        if self._single_row is None:
            self._single_row = SingleRowPredictor(self.booster, len(self.feature_names))
        return self._single_row.predict(vector)

    def score(self, vector: npt.NDArray[np.float64]) -> int:
        """AFD-style insight score, 0 (low risk) to 1000 (high risk)."""
        return self.calibrator.score(self.raw(vector))

    def raw_batch(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(self.booster.predict(matrix), dtype=np.float64)

    def score_batch(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return self.calibrator.scores(self.raw_batch(matrix))

    def explain(self, vector: npt.NDArray[np.float64], top: int = 5) -> list[Reason]:
        """Top features by absolute tree-SHAP contribution (costs about 1 ms: call on demand)."""
        contrib = self.booster.predict(vector.reshape(1, -1), pred_contrib=True, num_threads=1)[0]
        impacts = contrib[:-1]  # the last column is the expected value
        order = np.argsort(-np.abs(impacts))[:top]
        return [
            Reason(
                feature=self.feature_names[i],
                value=None if np.isnan(vector[i]) else float(vector[i]),
                impact=float(impacts[i]),
            )
            for i in order
            if impacts[i] != 0.0
        ]

    def to_bytes(self) -> bytes:
        doc = {
            "format": FORMAT_VERSION,
            "booster": self.booster.model_to_string(),
            "feature_names": list(self.feature_names),
            "calibrator": list(self.calibrator.legit_quantiles),
            "metrics": self.metrics,
            "importance": self.importance,
            "extractor_config": self.extractor_config,
        }
        return zlib.compress(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedModel:
        try:
            doc = orjson.loads(zlib.decompress(data))
        except (zlib.error, orjson.JSONDecodeError) as exc:
            raise InvalidInput(f"not a fraudstream model artifact: {exc}") from None
        if doc.get("format") != FORMAT_VERSION:
            raise InvalidInput(f"unsupported model artifact format {doc.get('format')!r}")
        return cls(
            booster=lgb.Booster(model_str=doc["booster"]),
            feature_names=tuple(doc["feature_names"]),
            calibrator=ScoreCalibrator(tuple(doc["calibrator"])),
            metrics=doc["metrics"],
            importance=doc["importance"],
            extractor_config=doc["extractor_config"],
        )
