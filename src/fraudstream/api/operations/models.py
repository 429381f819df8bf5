"""Models and model versions; training runs in the background exactly as AFD's does."""

from __future__ import annotations

from fraudstream.api.errors import validation
from fraudstream.api.operations.common import Body, Handler, paginate, version_key
from fraudstream.api.service import Service
from fraudstream.detector.trainer import start_training
from fraudstream.detector.training_data import label_index
from fraudstream.events import parse_time


def create_model(svc: Service, body: Body) -> Body:
    svc.registry.create_model(
        body["modelId"], body["modelType"], body["eventTypeName"], body.get("description", "")
    )
    return {}


def _model_key(doc: Body) -> str:
    return f"{doc['modelType']}/{doc['modelId']}"


def get_models(svc: Service, body: Body) -> Body:
    items = svc.registry.get_models(body.get("modelId"), body.get("modelType"))
    return paginate(items, body, "models", key=_model_key, page_size=10)


def delete_model(svc: Service, body: Body) -> Body:
    svc.registry.delete_model(body["modelId"], body["modelType"])
    return {}


def _check_training_request(svc: Service, body: Body, event_type: str) -> None:
    """Everything that can be checked before accepting the job, so a caller hears about a
    wrong variable or a missing file now rather than from a version that ends in ERROR."""
    info = svc.event_type(event_type)
    schema = body["trainingDataSchema"]
    unknown = [v for v in schema["modelVariables"] if v not in info.data_types]
    if unknown:
        raise validation(
            f"modelVariables {', '.join(unknown)} are not variables of event type {event_type!r}",
            [("trainingDataSchema.modelVariables", "unknown variable")],
        )
    mapper = (schema.get("labelSchema") or {}).get("labelMapper")
    if mapper:
        label_index(mapper)
    if body["trainingDataSource"] == "EXTERNAL_EVENTS":
        detail = body.get("externalEventsDetail")
        if not detail:
            raise validation(
                "externalEventsDetail is required when trainingDataSource is EXTERNAL_EVENTS",
                [("externalEventsDetail", "required")],
            )
        svc.data_path(detail["dataLocation"], "externalEventsDetail.dataLocation")
    else:
        detail = body.get("ingestedEventsDetail")
        if not detail:
            raise validation(
                "ingestedEventsDetail is required when trainingDataSource is INGESTED_EVENTS",
                [("ingestedEventsDetail", "required")],
            )
        window = detail["ingestedEventsTimeWindow"]
        if parse_time(window["startTime"]) >= parse_time(window["endTime"]):
            raise validation(
                "ingestedEventsTimeWindow.startTime must be before endTime",
                [("ingestedEventsDetail.ingestedEventsTimeWindow", "empty window")],
            )


def create_model_version(svc: Service, body: Body) -> Body:
    model = svc.registry.model(body["modelId"], body["modelType"])
    _check_training_request(svc, body, model["eventTypeName"])
    doc = svc.registry.add_model_version(
        body["modelId"],
        body["modelType"],
        body["trainingDataSource"],
        body["trainingDataSchema"],
        external_events_detail=body.get("externalEventsDetail"),
        ingested_events_detail=body.get("ingestedEventsDetail"),
    )
    start_training(
        svc.registry, svc.engine.events, doc["modelId"], doc["modelType"], doc["modelVersionNumber"]
    )
    return {k: doc[k] for k in ("modelId", "modelType", "modelVersionNumber", "status")}


def get_model_version(svc: Service, body: Body) -> Body:
    return svc.registry.model_version(
        body["modelId"], body["modelType"], body["modelVersionNumber"]
    )


def _version_key(doc: Body) -> str:
    return f"{doc['modelType']}/{doc['modelId']}/{version_key(doc['modelVersionNumber'])}"


def describe_model_versions(svc: Service, body: Body) -> Body:
    if body.get("modelId") is not None:
        svc.registry.get_models(body["modelId"], body.get("modelType"))  # NotFound if unknown
    items = svc.registry.describe_model_versions(
        body.get("modelId"), body.get("modelType"), body.get("modelVersionNumber")
    )
    return paginate(items, body, "modelVersionDetails", key=_version_key, page_size=10)


def update_model_version_status(svc: Service, body: Body) -> Body:
    svc.registry.update_model_version_status(
        body["modelId"], body["modelType"], body["modelVersionNumber"], body["status"]
    )
    return {}


def delete_model_version(svc: Service, body: Body) -> Body:
    svc.registry.delete_model_version(
        body["modelId"], body["modelType"], body["modelVersionNumber"]
    )
    return {}


HANDLERS: dict[str, Handler] = {
    "CreateModel": create_model,
    "GetModels": get_models,
    "DeleteModel": delete_model,
    "CreateModelVersion": create_model_version,
    "GetModelVersion": get_model_version,
    "DescribeModelVersions": describe_model_versions,
    "UpdateModelVersionStatus": update_model_version_status,
    "DeleteModelVersion": delete_model_version,
}
