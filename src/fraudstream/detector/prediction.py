"""What one scoring returns, in AFD's shapes and in the stream's ``fd`` record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fraudstream.detector.models import Reason


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule_id: str
    rule_version: str
    expression: str
    outcomes: tuple[str, ...]
    matched: bool


@dataclass(slots=True)
class Prediction:
    event_id: str
    event_type: str
    detector_id: str
    detector_version_id: str
    #: ``{"<model>_insightscore": score}`` for every model of the detector version.
    scores: dict[str, float]
    #: AFD ``modelVersion`` references, in the order of ``scores``.
    model_versions: list[dict[str, str]]
    #: Every rule evaluated, in order (only the matched ones are AFD ``ruleResults``).
    evaluated: list[RuleResult]
    outcomes: list[str]
    reasons: list[Reason] = field(default_factory=list)
    duplicate: bool = False
    scoring_ms: float = 0.0

    @property
    def outcome(self) -> str | None:
        """The decision: the first outcome of the first matched rule (None: no rule matched)."""
        return self.outcomes[0] if self.outcomes else None

    @property
    def matched(self) -> list[RuleResult]:
        return [r for r in self.evaluated if r.matched]

    def to_afd(self) -> dict[str, Any]:
        """The GetEventPrediction response body."""
        return {
            "modelScores": [
                {"modelVersion": ref, "scores": {name: score}}
                for ref, (name, score) in zip(self.model_versions, self.scores.items(), strict=True)
            ],
            "ruleResults": [
                {"ruleId": r.rule_id, "outcomes": list(r.outcomes)} for r in self.matched
            ],
            "externalModelOutputs": [],
        }

    def to_dict(self) -> dict[str, Any]:
        """The decision as stored and as published in the stream's ``fd`` object."""
        return {
            "outcome": self.outcome,
            "outcomes": self.outcomes,
            "scores": self.scores,
            "rules": [
                {"rule_id": r.rule_id, "rule_version": r.rule_version, "outcomes": list(r.outcomes)}
                for r in self.matched
            ],
            "reasons": [r.to_dict() for r in self.reasons],
            "detector_id": self.detector_id,
            "detector_version_id": self.detector_version_id,
            "model_versions": [
                f"{m['modelId']}:{m['modelVersionNumber']}" for m in self.model_versions
            ],
            "duplicate": self.duplicate,
        }
