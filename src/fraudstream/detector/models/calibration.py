"""Map raw model probabilities to AFD's 0-1000 score, where a score means a false positive rate.

AFD documents its Transaction/Online Fraud Insights scores as "directly related to the false
positive rate: 600 ~ 10% FPR, 900 ~ 2% FPR". We reproduce that contract instead of exposing a raw
probability: a threshold of 900 then flags about 2% of legitimate traffic whatever model is behind
it, so rules keep their meaning across retrains.

The calibrator keeps quantiles of the raw scores of legitimate validation events. For a raw score
it estimates the FPR (the share of legitimate events scoring at least as high) and maps that FPR
to a score by log-linear interpolation through fixed anchors.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

#: (false positive rate, score) anchors; between them log10(FPR) is interpolated linearly.
ANCHORS: tuple[tuple[float, float], ...] = (
    (1.0, 0.0),
    (0.10, 600.0),
    (0.02, 900.0),
    (0.001, 990.0),
    (0.00001, 1000.0),
)
_LOG_FPR = np.array([math.log10(f) for f, _ in ANCHORS])
_SCORES = np.array([s for _, s in ANCHORS])


def score_for_fpr(fpr: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The score whose estimated false positive rate is ``fpr``."""
    clipped = np.clip(np.asarray(fpr, dtype=np.float64), ANCHORS[-1][0], 1.0)
    # np.interp needs increasing x: log FPR decreases along the anchors, so reverse both.
    return np.asarray(np.interp(np.log10(clipped), _LOG_FPR[::-1], _SCORES[::-1]), np.float64)


def fpr_for_score(score: float) -> float:
    """The estimated false positive rate at a score threshold (inverse of :func:`score_for_fpr`)."""
    s = float(np.clip(score, 0.0, 1000.0))
    return float(10 ** np.interp(s, _SCORES, _LOG_FPR))


@dataclass(frozen=True)
class ScoreCalibrator:
    """Legitimate raw-score quantiles (ascending) measured on the validation period."""

    legit_quantiles: tuple[float, ...]
    _q: npt.NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Scoring is on the hot path: convert the quantiles to an array once, not per call.
        object.__setattr__(self, "_q", np.asarray(self.legit_quantiles, dtype=np.float64))

    @classmethod
    def fit(cls, legit_raw: npt.NDArray[np.float64], points: int = 4001) -> ScoreCalibrator:
        if legit_raw.size == 0:
            raise ValueError("calibration needs legitimate validation events")
        qs = np.quantile(legit_raw, np.linspace(0.0, 1.0, points))
        return cls(tuple(float(q) for q in qs))

    def fpr(self, raw: npt.ArrayLike) -> npt.NDArray[np.float64]:
        q = self._q
        # Share of legitimate events with a raw score >= raw; a small floor keeps the top finite.
        below = np.searchsorted(q, np.asarray(raw, dtype=np.float64), side="left") / (q.size - 1)
        return np.clip(1.0 - below, 0.0, 1.0)

    def scores(self, raw: npt.ArrayLike) -> npt.NDArray[np.int64]:
        return np.rint(score_for_fpr(self.fpr(raw))).astype(np.int64)

    def score(self, raw: float) -> int:
        """One score without array overhead (the per-decision path)."""
        q = self._q
        fpr = 1.0 - int(q.searchsorted(raw, side="left")) / (q.size - 1)
        return round(_score_for_fpr_scalar(fpr))


def _score_for_fpr_scalar(fpr: float) -> float:
    log_fpr = math.log10(min(max(fpr, ANCHORS[-1][0]), 1.0))
    for (f_hi, s_lo), (f_lo, s_hi) in itertools.pairwise(ANCHORS):
        lo, hi = math.log10(f_lo), math.log10(f_hi)
        if log_fpr >= lo:
            return s_lo + (s_hi - s_lo) * (hi - log_fpr) / (hi - lo)
    return ANCHORS[-1][1]
