"""Training metrics of model versions, read from AFD's ``trainingResultV2`` documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fraudstream.detector.registry import Registry

__all__ = ["ModelMetrics", "model_metrics", "model_versions"]


@dataclass(frozen=True)
class ModelMetrics:
    """What the models page shows for one version (empty lists when training failed)."""

    doc: dict[str, Any]
    auc: float | None
    pr_auc: float | None
    events: int | None
    fraud_events: int | None
    recall_at_fpr: dict[str, float]
    #: Threshold table rows: threshold, tpr, fpr, precision (highest threshold first).
    table: list[dict[str, float]]
    #: (variable, importance), most important first.
    importance: list[tuple[str, float]]
    histogram: dict[str, list[int]]

    @property
    def key(self) -> str:
        return f"{self.doc['modelId']}/{self.doc['modelType']}/{self.doc['modelVersionNumber']}"


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def model_metrics(doc: dict[str, Any]) -> ModelMetrics:
    result = doc.get("trainingResultV2") or {}
    per_type = result.get("trainingMetricsV2") or {}
    first: dict[str, Any] = next(iter(per_type.values()), {}) if isinstance(per_type, dict) else {}
    table = sorted(first.get("metricDataPoints") or [], key=lambda r: -r.get("threshold", 0))
    extra = result.get("fraudstreamMetrics") or {}
    logs = (result.get("variableImportanceMetrics") or {}).get("logOddsMetrics") or []
    importance = sorted(
        ((str(m["variableName"]), float(m["variableImportance"])) for m in logs),
        key=lambda item: -item[1],
    )
    auc = _float((first.get("modelPerformance") or {}).get("auc")) or _float(extra.get("auc"))
    return ModelMetrics(
        doc=doc,
        auc=auc,
        pr_auc=_float(extra.get("pr_auc")),
        events=extra.get("events"),
        fraud_events=extra.get("fraud_events"),
        recall_at_fpr=dict(extra.get("recall_at_fpr") or {}),
        table=table,
        importance=importance,
        histogram=dict(extra.get("score_histogram") or {}),
    )


def model_versions(registry: Registry) -> list[dict[str, Any]]:
    """Every model version, newest first within a model."""
    docs = registry.describe_model_versions()
    return sorted(
        docs, key=lambda d: (d["modelId"], -float(d["modelVersionNumber"]), d["modelType"])
    )
