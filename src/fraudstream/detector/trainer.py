"""Train a model version from an AFD CSV or from stored events and record it in the registry.

Feature rows come from :func:`build_training_matrix`, the same extractor code that scores online,
so what the model learned is exactly what it will see in production.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fraudstream.detector.event_store import EventStore
from fraudstream.detector.features import (
    FeatureExtractor,
    FeatureSchema,
    MemoryStateStore,
    build_training_matrix,
    fit_vocabulary,
)
from fraudstream.detector.models import TrainedModel, train
from fraudstream.detector.registry import Registry
from fraudstream.detector.training_data import (
    LabelledEvents,
    labelled_from_store,
    read_afd_csv,
)
from fraudstream.errors import FraudstreamError, InvalidInput

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def data_location(location: str) -> Path:
    """A local path for AFD's ``s3://`` style locations: a path or a ``file://`` URI."""
    if location.startswith("file://"):
        return Path(location.removeprefix("file://"))
    if "://" in location:
        raise InvalidInput(
            f"data location {location!r}: only local paths and file:// URIs are supported here"
        )
    return Path(location)


def schema_for(registry: Registry, variables: list[str]) -> FeatureSchema:
    """Feature roles for the model's variables, from their AFD variable types."""
    defs = {v["name"]: v for v in registry.get_variables()}
    return FeatureSchema.from_variables(
        [(n, defs[n].get("variableType", ""), defs[n]["dataType"]) for n in variables]
    )


def load_training_data(
    registry: Registry, events: EventStore, version: dict[str, Any]
) -> tuple[LabelledEvents, list[str]]:
    model = registry.model(version["modelId"], version["modelType"])
    event_type = registry.event_type(model["eventTypeName"])
    schema = version["trainingDataSchema"]
    variables = list(schema.get("modelVariables") or event_type["eventVariables"])
    label_schema = schema.get("labelSchema") or {}
    mapper = label_schema.get("labelMapper")
    unlabeled = label_schema.get("unlabeledEventsTreatment", "IGNORE")
    data_types = {v["name"]: v["dataType"] for v in registry.get_variables()}
    if version["trainingDataSource"] == "EXTERNAL_EVENTS":
        location = (version.get("externalEventsDetail") or {}).get("dataLocation", "")
        data = read_afd_csv(
            data_location(location),
            event_type=event_type["name"],
            data_types=data_types,
            model_variables=variables,
            label_mapper=mapper,
            unlabeled=unlabeled,
            require_entity=version["modelType"] != "ONLINE_FRAUD_INSIGHTS",
        )
    elif version["trainingDataSource"] == "INGESTED_EVENTS":
        window = (version.get("ingestedEventsDetail") or {}).get("ingestedEventsTimeWindow") or {}
        from fraudstream.events import parse_time

        start = parse_time(window["startTime"]).timestamp() if window.get("startTime") else None
        end = parse_time(window["endTime"]).timestamp() if window.get("endTime") else None
        stored = events.events(event_type["name"], start, end)
        data = labelled_from_store(
            ((s.event, s.label) for s in stored), label_mapper=mapper, unlabeled=unlabeled
        )
    else:
        raise InvalidInput(f"trainingDataSource {version['trainingDataSource']!r} is not supported")
    return data, variables


def fit(
    registry: Registry,
    data: LabelledEvents,
    event_type: str,
    variables: list[str],
    *,
    progress: Progress | None = None,
    warm_state: MemoryStateStore | None = None,
) -> TrainedModel:
    """Features by replaying ``data`` (into ``warm_state`` if given, so scoring can continue
    from the end of the training history), then the model."""
    schema = schema_for(registry, variables)
    extractor = FeatureExtractor(schema, fit_vocabulary(data.events, schema))
    if progress:
        progress("features", 0, len(data.events))
    matrix = build_training_matrix(data.events, extractor, warm_state)
    if progress:
        progress("features", len(data.events), len(data.events))
    return train(
        matrix,
        data.labels,
        data.times,
        extractor.feature_names,
        extractor.categorical_features,
        extractor_config=extractor.to_config(),
        on_round=(lambda i, n: progress("trees", i, n)) if progress else None,
    )


def training_result(model: TrainedModel, model_type: str) -> dict[str, Any]:
    """AFD's TrainingResultV2 shape, plus our fuller metrics under ``fraudstreamMetrics``."""
    m = model.metrics
    points = [
        {"fpr": r["fpr"], "precision": r["precision"], "tpr": r["tpr"], "threshold": r["threshold"]}
        for r in m["threshold_table"]
    ]
    key = {"ONLINE_FRAUD_INSIGHTS": "ofi", "ACCOUNT_TAKEOVER_INSIGHTS": "ati"}.get(
        model_type, "tfi"
    )
    return {
        "dataValidationMetrics": {"fileLevelMessages": [], "fieldLevelMessages": []},
        "trainingMetricsV2": {
            key: {
                "metricDataPoints": points,
                "modelPerformance": {"auc": m["auc"]},
            }
        },
        "variableImportanceMetrics": {
            "logOddsMetrics": [
                {"variableName": name, "variableType": "FEATURE", "variableImportance": value}
                for name, value in model.importance.items()
            ]
        },
        "fraudstreamMetrics": {k: v for k, v in m.items() if k != "threshold_table"},
    }


def run_training(
    registry: Registry,
    events: EventStore,
    model_id: str,
    model_type: str,
    number: str,
    *,
    progress: Progress | None = None,
    warm_state: MemoryStateStore | None = None,
    store_events: bool = False,
) -> dict[str, Any]:
    """Train the version registered as TRAINING_IN_PROGRESS; the registry records the result.

    ``store_events`` also keeps the training events with their labels in the event store
    (as AFD's stored events), for lookups and later retraining.
    """
    version = registry.model_version(model_id, model_type, number)
    try:
        data, variables = load_training_data(registry, events, version)
        event_type = registry.model(model_id, model_type)["eventTypeName"]
        model = fit(registry, data, event_type, variables, progress=progress, warm_state=warm_state)
        if store_events:
            for event, label in zip(data.events, data.labels, strict=True):
                events.put_event(event, "fraud" if label else "legit", event.event_time)
            events.flush()
    except FraudstreamError as exc:
        log.warning("training %s %s failed: %s", model_id, number, exc)
        return registry.complete_model_version(model_id, model_type, number, None, error=str(exc))
    return registry.complete_model_version(
        model_id, model_type, number, model.to_bytes(), training_result(model, model_type)
    )


def start_training(
    registry: Registry, events: EventStore, model_id: str, model_type: str, number: str
) -> threading.Thread:
    """Train in the background, as AFD does; poll the version's status for the end."""
    thread = threading.Thread(
        target=_train_in_background,
        args=(registry, events, model_id, model_type, number),
        name=f"train-{model_id}-{number}",
        daemon=True,
    )
    thread.start()
    return thread


def _train_in_background(
    registry: Registry, events: EventStore, model_id: str, model_type: str, number: str
) -> None:
    """run_training, but an unexpected error ends as status ERROR instead of a version stuck
    in TRAINING_IN_PROGRESS forever (nobody else would see the thread die)."""
    try:
        run_training(registry, events, model_id, model_type, number)
    except Exception:
        log.exception("training %s %s crashed", model_id, number)
        try:
            registry.complete_model_version(
                model_id, model_type, number, None, error="training failed: internal error"
            )
        except Exception:
            log.exception("could not record the failure of %s %s", model_id, number)
