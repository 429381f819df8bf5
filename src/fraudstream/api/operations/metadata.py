"""Entity types, labels, outcomes, variables and event types: the vocabulary of a detector."""

from __future__ import annotations

import time

from fraudstream.api.errors import validation
from fraudstream.api.operations.common import Body, Handler, by_name, paginate
from fraudstream.api.operations.events import EVENTS_DELETION
from fraudstream.api.service import Service, event_time_text
from fraudstream.errors import Conflict, FraudstreamError, InvalidInput, NotFound
from fraudstream.events import format_time

# -- entity types, labels, outcomes -------------------------------------------------------------


def put_entity_type(svc: Service, body: Body) -> Body:
    svc.registry.put_entity_type(body["name"], body.get("description", ""))
    return {}


def get_entity_types(svc: Service, body: Body) -> Body:
    items = svc.registry.get_entity_types(body.get("name"))
    return paginate(items, body, "entityTypes", key=by_name, page_size=10)


def delete_entity_type(svc: Service, body: Body) -> Body:
    svc.registry.delete_entity_type(body["name"])
    return {}


def put_label(svc: Service, body: Body) -> Body:
    svc.registry.put_label(body["name"], body.get("description", ""))
    return {}


def get_labels(svc: Service, body: Body) -> Body:
    items = svc.registry.get_labels(body.get("name"))
    return paginate(items, body, "labels", key=by_name, page_size=50)


def delete_label(svc: Service, body: Body) -> Body:
    svc.registry.delete_label(body["name"])
    return {}


def put_outcome(svc: Service, body: Body) -> Body:
    svc.registry.put_outcome(body["name"], body.get("description", ""))
    return {}


def get_outcomes(svc: Service, body: Body) -> Body:
    items = svc.registry.get_outcomes(body.get("name"))
    return paginate(items, body, "outcomes", key=by_name, page_size=100)


def delete_outcome(svc: Service, body: Body) -> Body:
    svc.registry.delete_outcome(body["name"])
    return {}


# -- variables ----------------------------------------------------------------------------------


def _create_variable(svc: Service, entry: Body) -> None:
    missing = [
        f for f in ("name", "dataType", "dataSource", "defaultValue") if entry.get(f) is None
    ]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}", [(f, "required") for f in missing])
    svc.registry.create_variable(
        entry["name"],
        entry["dataType"],
        entry["dataSource"],
        entry["defaultValue"],
        entry.get("description", ""),
        entry.get("variableType"),
    )


def create_variable(svc: Service, body: Body) -> Body:
    _create_variable(svc, body)
    return {}


def batch_create_variable(svc: Service, body: Body) -> Body:
    """Each entry succeeds or is reported in ``errors``; one bad entry spoils no other."""
    errors = []
    for entry in body["variableEntries"]:
        try:
            _create_variable(svc, entry)
        except FraudstreamError as exc:
            code = 409 if isinstance(exc, Conflict) else 400
            errors.append({"name": entry.get("name", ""), "code": code, "message": str(exc)})
    return {"errors": errors}


def batch_get_variable(svc: Service, body: Body) -> Body:
    variables, errors = [], []
    for name in body["names"]:
        try:
            variables.extend(svc.registry.get_variables(name))
        except NotFound as exc:
            errors.append({"name": name, "code": 404, "message": str(exc)})
    return {"variables": variables, "errors": errors}


def get_variables(svc: Service, body: Body) -> Body:
    items = svc.registry.get_variables(body.get("name"))
    return paginate(items, body, "variables", key=by_name, page_size=100)


def update_variable(svc: Service, body: Body) -> Body:
    svc.registry.update_variable(
        body["name"], body.get("defaultValue"), body.get("description"), body.get("variableType")
    )
    return {}


def delete_variable(svc: Service, body: Body) -> Body:
    svc.registry.delete_variable(body["name"])
    return {}


# -- event types --------------------------------------------------------------------------------


def put_event_type(svc: Service, body: Body) -> Body:
    if (body.get("eventOrchestration") or {}).get("eventBridgeEnabled"):
        raise validation(
            "eventOrchestration (Amazon EventBridge) is not supported by fraudstream",
            [("eventOrchestration.eventBridgeEnabled", "unsupported")],
        )
    svc.registry.put_event_type(
        body["name"],
        body["eventVariables"],
        body["entityTypes"],
        body.get("labels", []),
        body.get("description", ""),
        body.get("eventIngestion", "ENABLED"),
    )
    return {}


def get_event_types(svc: Service, body: Body) -> Body:
    items = svc.registry.get_event_types(body.get("name"))
    page = paginate(items, body, "eventTypes", key=by_name, page_size=10)
    page["eventTypes"] = [
        {**item, "ingestedEventStatistics": _statistics(svc, item["name"])}
        for item in page["eventTypes"]
    ]
    return page


def _statistics(svc: Service, event_type: str) -> Body:
    stats = svc.engine.events.statistics(event_type)
    out: Body = {
        "numberOfEvents": stats.count,
        "eventDataSizeInBytes": stats.size_bytes,
        "lastUpdatedTime": format_time(time.time()),
    }
    if stats.least_recent is not None and stats.most_recent is not None:
        out["leastRecentEvent"] = event_time_text(stats.least_recent)
        out["mostRecentEvent"] = event_time_text(stats.most_recent)
    return out


def delete_event_type(svc: Service, body: Body) -> Body:
    """AFD deletes the event type's stored events with it, so a new event type of the same
    name starts empty."""
    svc.registry.delete_event_type(body["name"])
    svc.delete_events(body["name"])
    svc.registry.store.delete(EVENTS_DELETION, body["name"])
    return {}


HANDLERS: dict[str, Handler] = {
    "PutEntityType": put_entity_type,
    "GetEntityTypes": get_entity_types,
    "DeleteEntityType": delete_entity_type,
    "PutLabel": put_label,
    "GetLabels": get_labels,
    "DeleteLabel": delete_label,
    "PutOutcome": put_outcome,
    "GetOutcomes": get_outcomes,
    "DeleteOutcome": delete_outcome,
    "CreateVariable": create_variable,
    "BatchCreateVariable": batch_create_variable,
    "BatchGetVariable": batch_get_variable,
    "GetVariables": get_variables,
    "UpdateVariable": update_variable,
    "DeleteVariable": delete_variable,
    "PutEventType": put_event_type,
    "GetEventTypes": get_event_types,
    "DeleteEventType": delete_event_type,
}
