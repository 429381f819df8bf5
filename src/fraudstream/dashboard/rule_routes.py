"""Rules and detector versions: see the ACTIVE version, draft a change, backtest it, activate
it, roll back."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fraudstream.dashboard.backtest import BacktestSpec
from fraudstream.dashboard.config import PREFIX
from fraudstream.dashboard.versions import (
    DraftError,
    RuleEdit,
    activate,
    create_draft,
    rollback_target,
    versions,
)
from fraudstream.dashboard.web import DashDep, FormDep, SessionDep, redirect
from fraudstream.detector.registry.registry import RULE_MODES
from fraudstream.errors import Conflict, FraudstreamError, InvalidInput, NotFound

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)

DEFAULT_PERIOD: Final = 86400.0
DEFAULT_WARMUP_HOURS: Final = 24.0
_INPUT_TIME: Final = "%Y-%m-%dT%H:%M"


def _detector(dash: DashDep, requested: str) -> str:
    known = {d["detectorId"] for d in dash.engine.registry.get_detectors()}
    return requested if requested in known else dash.config.detector_id


def _input_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(_INPUT_TIME)


def _parse_time(text: str, what: str) -> float:
    try:
        return datetime.strptime(text.strip(), _INPUT_TIME).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise InvalidInput(f"{what}: use YYYY-MM-DDTHH:MM (UTC)") from None


def _default_period(dash: DashDep) -> tuple[str, str]:
    """The last day of decisions (event time), or of the clock when there are none."""
    newest = dash.store.recent(None, limit=1)
    end = (newest[0].event_time if newest else time.time()) + 60.0
    return _input_time(end - DEFAULT_PERIOD), _input_time(end)


@router.get("/rules")
def rules_page(
    request: Request, dash: DashDep, session: SessionDep, detector: str = ""
) -> Response:
    detector_id = _detector(dash, detector)
    registry = dash.engine.registry
    try:
        all_versions = versions(registry, detector_id)
    except NotFound:
        all_versions = []
    active = next((v for v in all_versions if v.status == "ACTIVE"), None)
    start, end = _default_period(dash)
    return dash.page(
        request,
        "rules.html",
        session,
        nav="rules",
        detector_id=detector_id,
        detectors=[d["detectorId"] for d in registry.get_detectors()],
        versions=all_versions,
        active=active,
        rollback=rollback_target(registry, detector_id) if all_versions else None,
        period_start=start,
        period_end=end,
        warmup_hours=DEFAULT_WARMUP_HOURS,
    )


def _edits_from(doc_rules: list[dict[str, Any]]) -> list[RuleEdit]:
    return [
        RuleEdit(r["ruleId"], r["expression"], list(r["outcomes"]), r["ruleVersion"])
        for r in doc_rules
    ]


def _draft_form(
    dash: DashDep,
    request: Request,
    session: Any,
    detector_id: str,
    base: dict[str, Any],
    edits: list[RuleEdit],
    mode: str,
    description: str,
    error: str = "",
    status: int = 200,
) -> Response:
    return dash.page(
        request,
        "draft.html",
        session,
        status=status,
        nav="rules",
        detector_id=detector_id,
        base=base,
        edits=edits,
        mode=mode,
        modes=RULE_MODES,
        description=description,
        outcomes=[o["name"] for o in dash.engine.registry.get_outcomes()],
        variables=sorted(dash.engine.registry.rule_variables(detector_id)),
        lists=sorted(d["name"] for d in dash.engine.registry.get_lists()),
        error=error,
    )


@router.get("/rules/draft")
def draft_page(
    request: Request,
    dash: DashDep,
    session: SessionDep,
    detector: str = "",
    base: str = "",
) -> Response:
    detector_id = _detector(dash, detector)
    registry = dash.engine.registry
    doc = (
        registry.detector_version(detector_id, base)
        if base.isdigit()
        else registry.active_version(detector_id)
    )
    if doc is None:
        return dash.page(
            request, "missing.html", session, status=404, what="an ACTIVE version", nav="rules"
        )
    rules = [registry.rule(detector_id, r["ruleId"], r["ruleVersion"]) for r in doc["rules"]]
    return _draft_form(
        dash,
        request,
        session,
        detector_id,
        doc,
        _edits_from(rules),
        doc["ruleExecutionMode"],
        f"edited from version {doc['detectorVersionId']}",
    )


@router.post("/rules/draft")
def create_draft_route(request: Request, posted: FormDep, dash: DashDep) -> Response:
    detector_id = _detector(dash, posted.get("detector"))
    registry = dash.engine.registry
    base = registry.detector_version(detector_id, posted.get("base") or "0")
    ids, versions_, expressions, outcomes = (
        posted.all("rule_id"),
        posted.all("base_version"),
        posted.all("expression"),
        posted.all("outcome"),
    )
    removed = set(posted.all("remove"))
    edits = []
    for i, rule_id in enumerate(ids):
        rule_id = rule_id.strip()
        expression = expressions[i].strip() if i < len(expressions) else ""
        if not rule_id and not expression:
            continue  # the empty "new rule" row
        if rule_id in removed:
            continue
        version = versions_[i] if i < len(versions_) and versions_[i] else None
        outcome = outcomes[i] if i < len(outcomes) else ""
        edits.append(RuleEdit(rule_id, expression, [outcome] if outcome else [], version))
    mode = posted.get("mode")
    mode = mode if mode in RULE_MODES else base["ruleExecutionMode"]
    description = posted.get("description")[:128]
    try:
        doc = create_draft(
            registry,
            detector_id,
            edits,
            base=base,
            rule_execution_mode=mode,
            description=description,
        )
    except DraftError as exc:
        return _draft_form(
            dash,
            request,
            posted.session,
            detector_id,
            base,
            exc.edits or edits,
            mode,
            description,
            str(exc),
            400,
        )
    except FraudstreamError as exc:
        return _draft_form(
            dash,
            request,
            posted.session,
            detector_id,
            base,
            edits,
            mode,
            description,
            str(exc),
            400,
        )
    version = doc["detectorVersionId"]
    posted.session.flash(
        "ok", f"Draft version {version} created. Backtest it before you activate it."
    )
    return redirect(f"{PREFIX}/rules?detector={detector_id}#v{version}")


def _change_status(posted: FormDep, dash: DashDep, version: str, rollback: bool) -> Response:
    detector_id = _detector(dash, posted.get("detector"))
    verb = "roll back to" if rollback else "activate"
    try:
        activate(dash.engine.registry, detector_id, version)
    except (Conflict, InvalidInput, NotFound) as exc:
        posted.session.flash("error", f"Could not {verb} version {version}: {exc}")
    else:
        done = "Rolled back: version" if rollback else "Version"
        posted.session.flash(
            "ok", f"{done} {version} is now ACTIVE; every scorer switches within seconds."
        )
    return redirect(f"{PREFIX}/rules?detector={detector_id}")


@router.post("/rules/{version}/activate")
def activate_route(version: str, posted: FormDep, dash: DashDep) -> Response:
    return _change_status(posted, dash, version, rollback=False)


@router.post("/rules/rollback")
def rollback_route(posted: FormDep, dash: DashDep) -> Response:
    detector_id = _detector(dash, posted.get("detector"))
    target = rollback_target(dash.engine.registry, detector_id)
    if target is None:
        posted.session.flash("error", "There is no earlier version to roll back to.")
        return redirect(f"{PREFIX}/rules?detector={detector_id}")
    return _change_status(posted, dash, target["detectorVersionId"], rollback=True)


@router.post("/rules/backtest")
def backtest_route(posted: FormDep, dash: DashDep) -> Response:
    detector_id = _detector(dash, posted.get("detector"))
    version = posted.get("version")
    registry = dash.engine.registry
    back = f"{PREFIX}/rules?detector={detector_id}"
    try:
        active = registry.active_version(detector_id)
        if active is None:
            raise NotFound(f"detector {detector_id} has no ACTIVE version to compare with")
        registry.detector_version(detector_id, version or "0")
        start = _parse_time(posted.get("start"), "start")
        end = _parse_time(posted.get("end"), "end")
        if end <= start:
            raise InvalidInput("the period must end after it starts")
        warmup = float(posted.get("warmup") or 0) * 3600.0
        if not 0 <= warmup <= 30 * 86400:
            raise InvalidInput("warm-up: 0 to 720 hours")
    except ValueError as exc:  # InvalidInput is a ValueError too
        posted.session.flash("error", f"Backtest not started: {exc}")
        return redirect(back)
    except NotFound as exc:
        posted.session.flash("error", f"Backtest not started: {exc}")
        return redirect(back)
    spec = BacktestSpec(
        detector_id,
        version,
        active["detectorVersionId"],
        start,
        end,
        warmup,
        dash.config.max_backtest_events,
    )
    job = dash.jobs.submit(spec, posted.session.user)
    return redirect(f"{PREFIX}/backtests/{job.id}")


def _job_context(dash: DashDep, job_id: str) -> dict[str, Any] | None:
    job = dash.jobs.get(job_id)
    if job is None:
        return None
    return {"job": job, "result": job.result, "outcomes": ("approve", "review", "block", "none")}


@router.get("/backtests/{job_id}")
def backtest_page(job_id: str, request: Request, dash: DashDep, session: SessionDep) -> Response:
    context = _job_context(dash, job_id)
    if context is None:
        return dash.page(
            request, "missing.html", session, status=404, what="this backtest", nav="rules"
        )
    return dash.page(request, "backtest.html", session, nav="rules", **context)


@router.get("/backtests/{job_id}/status")
def backtest_status(job_id: str, request: Request, dash: DashDep, session: SessionDep) -> Response:
    context = _job_context(dash, job_id)
    if context is None:
        return dash.page(request, "missing.html", session, status=404, what="this backtest")
    return dash.page(request, "_backtest.html", session, **context)
