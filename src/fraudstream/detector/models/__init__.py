"""Models: LightGBM trees calibrated to AFD's 0-1000 insight score, with AFD-style metrics."""

from __future__ import annotations

from fraudstream.detector.models.calibration import ScoreCalibrator, fpr_for_score, score_for_fpr
from fraudstream.detector.models.model import Reason, TrainedModel
from fraudstream.detector.models.training import train

__all__ = [
    "Reason",
    "ScoreCalibrator",
    "TrainedModel",
    "fpr_for_score",
    "score_for_fpr",
    "train",
]
