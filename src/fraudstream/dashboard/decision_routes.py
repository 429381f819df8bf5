"""The analyst console's decisions: search, one decision in full, the review queue, labels."""

from __future__ import annotations

from typing import Any, Final, cast
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fraudstream.dashboard.config import PREFIX
from fraudstream.dashboard.filters import OUTCOMES
from fraudstream.dashboard.labels import LABELS, label_decision
from fraudstream.dashboard.web import DashDep, FormDep, SessionDep, redirect
from fraudstream.errors import NotFound
from fraudstream.sinks import DecisionFilter, DecisionNotFound, SinkInputError
from fraudstream.sinks.queries import SEARCH_FIELDS, Label, SearchField

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)

QUEUE_PAGE: Final = 50
HISTORY: Final = 20
#: Record fields shown first on a decision, in this order; the rest follow alphabetically.
LEADING_FIELDS: Final = (
    "event_id",
    "entity_id",
    "event_time",
    "transaction_amt",
    "transaction_currency",
    "product_category",
    "customer_name",
    "email_address",
    "ip_address",
    "phone",
    "card_bin",
    "billing_street",
    "billing_city",
    "billing_state",
    "billing_zip",
    "billing_latitude",
    "billing_longitude",
    "customer_job",
    "user_agent",
)


def decision_url(event_id: str) -> str:
    return f"{PREFIX}/decisions/{quote(event_id, safe='')}"


@router.get("/search")
def search(
    request: Request,
    dash: DashDep,
    session: SessionDep,
    q: str = "",
    field: str = "any",
    mode: str = "prefix",
    outcome: str = "",
) -> Response:
    rows: list[Any] = []
    error = ""
    where = DecisionFilter(outcomes=(outcome,)) if outcome in OUTCOMES else None
    field_name = cast(SearchField, field if field in SEARCH_FIELDS else "any")
    text = q.strip()[:200]
    try:
        if text:
            rows = dash.store.search(
                text, field_name, "substring" if mode == "substring" else "prefix", where, 100
            )
        else:
            rows = dash.store.recent(where, limit=50)
    except SinkInputError as exc:
        error = str(exc)
    return dash.page(
        request,
        "search.html",
        session,
        nav="search",
        q=text,
        field=field_name,
        mode=mode,
        outcome=outcome,
        rows=rows,
        error=error,
        fields=SEARCH_FIELDS,
        outcomes=OUTCOMES,
    )


def _rule_docs(dash: DashDep, fd: dict[str, Any]) -> list[dict[str, Any]]:
    """The matched rules with their expressions (when the registry still has them)."""
    detector = fd.get("detector_id")
    out = []
    for rule in fd.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        entry = dict(rule)
        try:
            doc = dash.engine.registry.rule(
                str(detector), str(rule.get("rule_id")), str(rule.get("rule_version"))
            )
            entry["expression"] = doc["expression"]
        except (NotFound, ValueError):
            entry["expression"] = None
        out.append(entry)
    return out


@router.get("/decisions/{event_id}")
def decision(request: Request, event_id: str, dash: DashDep, session: SessionDep) -> Response:
    found = dash.store.get(event_id)
    if found is None:
        return dash.page(
            request, "missing.html", session, status=404, what=f"decision {event_id}", nav=""
        )
    record = dict(found.record)
    fd = record.pop("fd", {}) or {}
    fields: list[tuple[str, Any]] = [(k, record[k]) for k in LEADING_FIELDS if k in record]
    fields += sorted((k, v) for k, v in record.items() if k not in LEADING_FIELDS)
    reasons = [r for r in fd.get("reasons") or [] if isinstance(r, dict)]
    top = max((abs(float(r.get("impact") or 0)) for r in reasons), default=0.0) or 1.0
    scores = fd.get("scores") or {}
    history = dash.store.entity_decisions(str(record.get("entity_id")), limit=HISTORY)
    return dash.page(
        request,
        "decision.html",
        session,
        nav="search",
        d=found,
        record=record,
        fd=fd,
        fields=fields,
        score=next(iter(scores.values()), None) if isinstance(scores, dict) else None,
        rules=_rule_docs(dash, fd),
        reasons=reasons,
        reason_scale=top,
        history=history,
        labels=LABELS,
        back=request.query_params.get("back", ""),
    )


@router.post("/decisions/{event_id}/label")
def set_label(event_id: str, posted: FormDep, dash: DashDep) -> Response:
    label = posted.get("label")
    back = posted.get("back")
    target = back if back.startswith(PREFIX + "/") and not back.startswith("//") else None
    target = target or decision_url(event_id)
    session = posted.session
    if label not in LABELS:
        session.flash("error", "Choose fraud or legitimate.")
        return redirect(target)
    try:
        done = label_decision(
            dash.store,
            dash.engine,
            event_id,
            cast(Label, label),
            session.user,
            posted.get("note")[:500],
        )
    except DecisionNotFound:
        session.flash("error", f"Decision {event_id} no longer exists.")
        return redirect(target)
    message = f"Labelled {event_id} as {LABELS[label].lower()}."
    if done.event_updated:
        session.flash("ok", message + " The stored event carries the label for retraining.")
    else:
        session.flash(
            "warn", message + " The event is not in this engine's event store (not retrained)."
        )
    return redirect(target)


@router.get("/review")
def review_queue(
    request: Request,
    dash: DashDep,
    session: SessionDep,
    order: str = "oldest",
) -> Response:
    oldest = order != "newest"
    rows = dash.store.review_queue(None, limit=QUEUE_PAGE, oldest_first=oldest)
    total = dash.store.review_queue(None, limit=1000, oldest_first=oldest)
    return dash.page(
        request,
        "review.html",
        session,
        nav="review",
        rows=rows,
        waiting=len(total),
        order="oldest" if oldest else "newest",
        labels=LABELS,
    )
