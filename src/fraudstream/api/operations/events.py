"""Scoring and stored events: GetEventPrediction (the hot path), its audit trail, labels."""

from __future__ import annotations

import logging
import threading

from fraudstream.api.errors import not_found, validation
from fraudstream.api.operations.common import Body, Handler, decode_token, encode_token
from fraudstream.api.service import Service, iso
from fraudstream.detector.registry.names import now_iso
from fraudstream.errors import Conflict, NotFound
from fraudstream.events import parse_time

log = logging.getLogger(__name__)

#: Registry documents recording DeleteEventsByEventType runs, keyed by event type name.
EVENTS_DELETION = "events_deletion"


def get_event_prediction(svc: Service, body: Body) -> Body:
    if body.get("externalModelEndpointDataBlobs"):
        raise validation(
            "externalModelEndpointDataBlobs (Amazon SageMaker) are not supported by fraudstream",
            [("externalModelEndpointDataBlobs", "unsupported")],
        )
    event = svc.make_event(
        body["eventTypeName"],
        body["eventId"],
        body["entities"],
        body["eventTimestamp"],
        body["eventVariables"],
    )
    prediction = svc.predict(event, body["detectorId"], body.get("detectorVersionId"))
    return prediction.to_afd()


def _relative_impact(impact: float, largest: float) -> str:
    """AFD's 0-5 rating with a direction, e.g. ``"4 increased"``."""
    rating = 0 if largest <= 0 else max(1, round(5 * abs(impact) / largest))
    return f"{rating} {'increased' if impact > 0 else 'decreased'}"


def _model_evaluations(record: Body) -> list[Body]:
    reasons = record["prediction"].get("reasons") or []
    largest = max((abs(r["impact"]) for r in reasons), default=0.0)
    explained = [
        {
            "eventVariableName": r["feature"],
            "relativeImpact": _relative_impact(r["impact"], largest),
            "logOddsImpact": r["impact"],
        }
        for r in reasons
    ]
    out = []
    for i, score in enumerate(record["afd"]["modelScores"]):
        ref = score["modelVersion"]
        evaluations = []
        for name, value in score["scores"].items():
            item: Body = {"outputVariableName": name, "evaluationScore": f"{value:g}"}
            if i == 0 and explained:
                item["predictionExplanations"] = {"variableImpactExplanations": explained}
            evaluations.append(item)
        out.append(
            {
                "modelId": ref["modelId"],
                "modelVersion": ref["modelVersionNumber"],
                "modelType": ref["modelType"],
                "evaluations": evaluations,
            }
        )
    return out


def get_event_prediction_metadata(svc: Service, body: Body) -> Body:
    """The stored record of one prediction (the one closest to ``predictionTimestamp``)."""
    records = svc.engine.events.predictions(
        event_id=body["eventId"],
        event_type=body["eventTypeName"],
        detector_id=body["detectorId"],
        detector_version_id=body["detectorVersionId"],
        limit=1000,
    )
    if not records:
        raise not_found(
            f"no prediction of event {body['eventId']!r} by detector {body['detectorId']} "
            f"version {body['detectorVersionId']}"
        )
    wanted = parse_time(body["predictionTimestamp"]).timestamp()
    _, record = min(records, key=lambda r: abs(r[1]["predictionTimestamp"] - wanted))
    out: Body = {
        "eventId": record["eventId"],
        "eventTypeName": record["eventTypeName"],
        "entityId": record["entityId"],
        "entityType": record["entityType"],
        "eventTimestamp": iso(record["eventTimestamp"]),
        "detectorId": body["detectorId"],
        "detectorVersionId": body["detectorVersionId"],
        "rules": record["evaluatedRules"],
        "outcomes": record["prediction"]["outcomes"],
        "evaluatedModelVersions": _model_evaluations(record),
        "evaluatedExternalModels": [],
        "predictionTimestamp": iso(record["predictionTimestamp"]),
    }
    try:
        version = svc.registry.detector_version(body["detectorId"], body["detectorVersionId"])
        out["detectorVersionStatus"] = version["status"]
        out["ruleExecutionMode"] = version["ruleExecutionMode"]
    except NotFound:
        pass  # the version was deleted since; the record stays meaningful without it
    try:
        stored = svc.stored_event(body["eventTypeName"], body["eventId"])
        out["eventVariables"] = [
            {"name": k, "value": v, "source": "EVENT"} for k, v in stored["eventVariables"].items()
        ]
    except NotFound:
        out["eventVariables"] = []
    return out


def _filter(body: Body, name: str) -> str | None:
    condition = body.get(name)
    return None if not condition else condition.get("value")


def list_event_predictions(svc: Service, body: Body) -> Body:
    """Newest first; the token is the position of the last record returned."""
    window = body.get("predictionTimeRange") or {}
    before: int | None = None
    if body.get("nextToken"):
        text = decode_token(body["nextToken"])
        if not text.isdigit():
            raise validation("nextToken is not a token this server issued")
        before = int(text)
    limit = int(body.get("maxResults") or 100)
    rows = svc.engine.events.predictions(
        event_id=_filter(body, "eventId"),
        event_type=_filter(body, "eventType"),
        detector_id=_filter(body, "detectorId"),
        detector_version_id=_filter(body, "detectorVersionId"),
        start=parse_time(window["startTime"]).timestamp() if window else None,
        end=parse_time(window["endTime"]).timestamp() if window else None,
        limit=limit + 1,
        before_id=before,
    )
    page = rows[:limit]
    out: Body = {
        "eventPredictionSummaries": [
            {
                "eventId": r["eventId"],
                "eventTypeName": r["eventTypeName"],
                "eventTimestamp": iso(r["eventTimestamp"]),
                "predictionTimestamp": iso(r["predictionTimestamp"]),
                "detectorId": r["prediction"]["detector_id"],
                "detectorVersionId": r["prediction"]["detector_version_id"],
            }
            for _, r in page
        ]
    }
    if len(rows) > limit:
        out["nextToken"] = encode_token(str(page[-1][0]))
    return out


def send_event(svc: Service, body: Body) -> Body:
    event = svc.make_event(
        body["eventTypeName"],
        body["eventId"],
        body["entities"],
        body["eventTimestamp"],
        body["eventVariables"],
    )
    svc.send_event(event, body.get("assignedLabel"), body.get("labelTimestamp"))
    return {}


def get_event(svc: Service, body: Body) -> Body:
    return {"event": svc.stored_event(body["eventTypeName"], body["eventId"])}


def update_event_label(svc: Service, body: Body) -> Body:
    svc.label_event(
        body["eventTypeName"], body["eventId"], body["assignedLabel"], body["labelTimestamp"]
    )
    return {}


def delete_event(svc: Service, body: Body) -> Body:
    svc.engine.events.delete_event(
        body["eventTypeName"], body["eventId"], predictions=bool(body.get("deleteAuditHistory"))
    )
    return {}


def delete_events_by_event_type(svc: Service, body: Body) -> Body:
    """Delete all stored events of an event type in the background, as AFD does; poll
    GetDeleteEventsByEventTypeStatus for the end."""
    name = body["eventTypeName"]
    svc.registry.event_type(name)  # ResourceNotFoundException for an unknown event type
    store = svc.registry.store
    with store.transaction():
        running = store.get(EVENTS_DELETION, name)
        if running is not None and running["eventsDeletionStatus"].startswith("IN_PROGRESS"):
            raise Conflict(f"the events of event type {name!r} are already being deleted")
        doc: Body = {
            "eventTypeName": name,
            "eventsDeletionStatus": "IN_PROGRESS",
            "startTime": now_iso(),
        }
        store.put(EVENTS_DELETION, name, doc)
    threading.Thread(
        target=_delete_events, args=(svc, doc), name=f"delete-events-{name}", daemon=True
    ).start()
    return {"eventTypeName": name, "eventsDeletionStatus": "IN_PROGRESS"}


def _delete_events(svc: Service, doc: Body) -> None:
    try:
        deleted = svc.delete_events(doc["eventTypeName"])
        doc.update(eventsDeletionStatus="COMPLETE", deletedEventsCount=deleted)
    except Exception:
        log.exception("deleting the events of event type %s failed", doc["eventTypeName"])
        doc["eventsDeletionStatus"] = "FAILED"
    doc["completionTime"] = now_iso()
    svc.registry.store.put(EVENTS_DELETION, doc["eventTypeName"], doc)


def get_delete_events_by_event_type_status(svc: Service, body: Body) -> Body:
    name = body["eventTypeName"]
    doc = svc.registry.store.get(EVENTS_DELETION, name)
    if doc is None:
        svc.registry.event_type(name)  # an unknown event type is the better error
        raise not_found(f"no deletion of the events of event type {name!r} was requested")
    return {"eventTypeName": name, "eventsDeletionStatus": doc["eventsDeletionStatus"]}


HANDLERS: dict[str, Handler] = {
    "GetEventPrediction": get_event_prediction,
    "GetEventPredictionMetadata": get_event_prediction_metadata,
    "ListEventPredictions": list_event_predictions,
    "SendEvent": send_event,
    "GetEvent": get_event,
    "UpdateEventLabel": update_event_label,
    "DeleteEvent": delete_event,
    "DeleteEventsByEventType": delete_events_by_event_type,
    "GetDeleteEventsByEventTypeStatus": get_delete_events_by_event_type_status,
}
