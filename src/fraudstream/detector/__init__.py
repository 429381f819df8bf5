"""The fraud detector: features, models, rules, detectors and versions, and predict()."""

from __future__ import annotations

from fraudstream.detector.engine import Engine
from fraudstream.detector.prediction import Prediction, RuleResult

__all__ = ["Engine", "Prediction", "RuleResult"]
