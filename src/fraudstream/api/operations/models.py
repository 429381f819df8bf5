"""Models and model versions; training runs in the background exactly as AFD's does."""

from __future__ import annotations

from fraudstream.api.errors import not_found, validation
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


def update_model(svc: Service, body: Body) -> Body:
    svc.registry.update_model(body["modelId"], body["modelType"], body.get("description", ""))
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
    return _start(svc, doc)


def _start(svc: Service, version: Body) -> Body:
    start_training(
        svc.registry,
        svc.engine.events,
        version["modelId"],
        version["modelType"],
        version["modelVersionNumber"],
    )
    return {k: version[k] for k in ("modelId", "modelType", "modelVersionNumber", "status")}


def update_model_version(svc: Service, body: Body) -> Body:
    """Retrain a major version as its next minor version (``1.01``, ``1.02``...) with the same
    data source and schema; only the data location (or the ingested-events window) and the
    data access role may change, as in AFD."""
    model_id, model_type, major = body["modelId"], body["modelType"], body["majorVersionNumber"]
    model = svc.registry.model(model_id, model_type)
    same_major = [
        v
        for v in svc.registry.describe_model_versions(model_id, model_type)
        if v["modelVersionNumber"].partition(".")[0] == major
    ]
    if not same_major:
        raise not_found(f"model {model_id!r} has no major version {major}")
    base = min(same_major, key=lambda v: version_key(v["modelVersionNumber"]))
    source = base["trainingDataSource"]
    wrong = "ingestedEventsDetail" if source == "EXTERNAL_EVENTS" else "externalEventsDetail"
    if body.get(wrong):
        raise validation(
            f"version {base['modelVersionNumber']} was trained on {source}; {wrong} does not apply",
            [(wrong, "does not match the trainingDataSource")],
        )
    request: Body = {"trainingDataSource": source, "trainingDataSchema": base["trainingDataSchema"]}
    for name in ("externalEventsDetail", "ingestedEventsDetail"):
        detail = body.get(name) or base.get(name)
        if detail:
            request[name] = detail
    _check_training_request(svc, request, model["eventTypeName"])
    doc = svc.registry.add_model_version(
        model_id,
        model_type,
        source,
        request["trainingDataSchema"],
        external_events_detail=request.get("externalEventsDetail"),
        ingested_events_detail=request.get("ingestedEventsDetail"),
        major=major,
    )
    return _start(svc, doc)


def get_model_version(svc: Service, body: Body) -> Body:
    return svc.registry.model_version(
        body["modelId"], body["modelType"], body["modelVersionNumber"]
    )


def _version_key(doc: Body) -> str:
    return f"{doc['modelType']}/{doc['modelId']}/{version_key(doc['modelVersionNumber'])}"


def training_result_v1(v2: Body) -> Body | None:
    """AFD's original ``TrainingResult`` from a ``TrainingResultV2``.

    AFD reports both: ``trainingResult`` (one ``trainingMetrics`` with ``auc`` and the
    threshold table) predates ``trainingResultV2`` (the same per model type), and AWS's own
    sample notebooks read ``trainingResult['trainingMetrics']`` for every model type.
    """
    per_type = next(iter((v2.get("trainingMetricsV2") or {}).values()), None)
    if not per_type:
        return None
    result: Body = {
        "trainingMetrics": {
            "auc": (per_type.get("modelPerformance") or {}).get("auc"),
            "metricDataPoints": per_type.get("metricDataPoints", []),
        }
    }
    for name in ("dataValidationMetrics", "variableImportanceMetrics"):
        if v2.get(name) is not None:
            result[name] = v2[name]
    return result


def _version_detail(doc: Body) -> Body:
    v2 = doc.get("trainingResultV2")
    if not v2 or "trainingResult" in doc:
        return doc
    return {**doc, "trainingResult": training_result_v1(v2)}


def describe_model_versions(svc: Service, body: Body) -> Body:
    if body.get("modelId") is not None:
        svc.registry.get_models(body["modelId"], body.get("modelType"))  # NotFound if unknown
    items = svc.registry.describe_model_versions(
        body.get("modelId"), body.get("modelType"), body.get("modelVersionNumber")
    )
    page = paginate(items, body, "modelVersionDetails", key=_version_key, page_size=10)
    page["modelVersionDetails"] = [_version_detail(d) for d in page["modelVersionDetails"]]
    return page


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
    "UpdateModel": update_model,
    "DeleteModel": delete_model,
    "CreateModelVersion": create_model_version,
    "UpdateModelVersion": update_model_version,
    "GetModelVersion": get_model_version,
    "DescribeModelVersions": describe_model_versions,
    "UpdateModelVersionStatus": update_model_version_status,
    "DeleteModelVersion": delete_model_version,
}
