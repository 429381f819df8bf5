"""Model versions and their training metrics: ROC curve, threshold table, importance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fraudstream.dashboard import charts
from fraudstream.dashboard.charts import Bar
from fraudstream.dashboard.config import PREFIX
from fraudstream.dashboard.models_view import model_metrics, model_versions
from fraudstream.dashboard.versions import active_thresholds
from fraudstream.dashboard.web import DashDep, SessionDep

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)
_HIST_COLORS = {"fraud": "#d9443a", "legit": "#2f9e6e"}


@router.get("/models")
def models_page(
    request: Request, dash: DashDep, session: SessionDep, version: str = ""
) -> Response:
    docs = model_versions(dash.engine.registry)
    chosen = next(
        (
            d
            for d in docs
            if f"{d['modelId']}/{d['modelType']}/{d['modelVersionNumber']}" == version
        ),
        None,
    )
    if chosen is None:
        chosen = next((d for d in docs if d["status"] == "ACTIVE"), docs[0] if docs else None)
    if chosen is None:
        return dash.page(
            request, "missing.html", session, status=404, what="a trained model", nav="models"
        )
    metrics = model_metrics(chosen)
    thresholds = active_thresholds(dash.engine.registry, dash.config.detector_id)
    marks = [(t, o) for t, o in thresholds if o != "approve"]
    points = [(r["threshold"], r["fpr"], r["tpr"]) for r in metrics.table]
    importance = charts.hbars(
        [
            Bar(name, [("importance", value)], f"{value:.3f}", colors={"importance": "#3d6fb6"})
            for name, value in metrics.importance[:20]
        ],
        label="variable importance",
        empty_text="no importance recorded",
    )
    histogram = charts.class_histogram(
        metrics.histogram, _HIST_COLORS, label="validation score distribution by class"
    )
    return dash.page(
        request,
        "models.html",
        session,
        nav="models",
        docs=docs,
        chosen=chosen,
        m=metrics,
        roc=charts.roc_curve(points, marks=marks, auc=metrics.auc, label="ROC curve"),
        importance=importance,
        marks=marks,
        histogram=histogram,
    )
