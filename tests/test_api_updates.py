"""The AFD operations added for AWS's sample notebooks, through boto3 against a real server:
UpdateModel, UpdateModelVersion (minor versions), UpdateRuleMetadata,
UpdateDetectorVersionMetadata, DeleteEventsByEventType and its status, DeleteEventType taking
the stored events with it, TrainingResult next to TrainingResultV2, GetEvent's timestamps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from test_api_support import (
    ROLE,
    T0,
    TRANSACTION_VARIABLE_NAMES,
    RunningServer,
    define_transaction_type,
    running_server,
    transactions,
    wait_for,
    write_afd_csv,
)

MODEL = "update_model"
MODEL_TYPE = "ONLINE_FRAUD_INSIGHTS"
SCHEMA = {
    "modelVariables": TRANSACTION_VARIABLE_NAMES,
    "labelSchema": {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}},
}


@dataclass
class Setup:
    server: RunningServer
    client: Any
    data: Path


def _finished(client: Any, number: str) -> str:
    def status() -> str | None:
        got = client.get_model_version(
            modelId=MODEL, modelType=MODEL_TYPE, modelVersionNumber=number
        )["status"]
        return None if got == "TRAINING_IN_PROGRESS" else str(got)

    return str(wait_for(status, timeout=120))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("updates")
    data = home / "data"
    data.mkdir()
    with running_server(home) as server:
        client = server.client()
        define_transaction_type(client)
        write_afd_csv(data / "first.csv", transactions(1500, seed=20))
        write_afd_csv(data / "second.csv", transactions(1500, seed=21))
        client.create_model(modelId=MODEL, modelType=MODEL_TYPE, eventTypeName="transaction")
        started = client.create_model_version(
            modelId=MODEL,
            modelType=MODEL_TYPE,
            trainingDataSource="EXTERNAL_EVENTS",
            trainingDataSchema=SCHEMA,
            externalEventsDetail={
                "dataLocation": f"file://{data / 'first.csv'}",
                "dataAccessRoleArn": ROLE,
            },
        )
        assert started["modelVersionNumber"] == "1.0"
        assert _finished(client, "1.0") == "TRAINING_COMPLETE"
        yield Setup(server, client, data)


def test_update_model_changes_the_description(setup: Setup) -> None:
    client = setup.client
    client.update_model(modelId=MODEL, modelType=MODEL_TYPE, description="registrations, v2")
    (model,) = client.get_models(modelId=MODEL, modelType=MODEL_TYPE)["models"]
    assert model["description"] == "registrations, v2"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.update_model(modelId="nobody", modelType=MODEL_TYPE, description="x")


def test_update_model_version_trains_minor_versions(setup: Setup) -> None:
    client = setup.client
    first = client.update_model_version(modelId=MODEL, modelType=MODEL_TYPE, majorVersionNumber="1")
    assert first == {
        **first,
        "modelId": MODEL,
        "modelType": MODEL_TYPE,
        "modelVersionNumber": "1.01",
        "status": "TRAINING_IN_PROGRESS",
    }
    assert _finished(client, "1.01") == "TRAINING_COMPLETE"
    moved = {"dataLocation": f"file://{setup.data / 'second.csv'}", "dataAccessRoleArn": ROLE}
    second = client.update_model_version(
        modelId=MODEL, modelType=MODEL_TYPE, majorVersionNumber="1", externalEventsDetail=moved
    )
    assert second["modelVersionNumber"] == "1.02"
    assert _finished(client, "1.02") == "TRAINING_COMPLETE"
    version = client.get_model_version(
        modelId=MODEL, modelType=MODEL_TYPE, modelVersionNumber="1.02"
    )
    assert version["externalEventsDetail"] == moved
    assert version["trainingDataSchema"] == SCHEMA

    details = client.describe_model_versions(modelId=MODEL, modelType=MODEL_TYPE)
    numbers = [d["modelVersionNumber"] for d in details["modelVersionDetails"]]
    assert numbers == ["1.0", "1.01", "1.02"]
    for detail in details["modelVersionDetails"]:
        v1 = detail["trainingResult"]
        v2 = detail["trainingResultV2"]["trainingMetricsV2"]["ofi"]
        assert v1["trainingMetrics"]["auc"] == v2["modelPerformance"]["auc"]
        assert v1["trainingMetrics"]["metricDataPoints"] == v2["metricDataPoints"]
        assert (
            v1["variableImportanceMetrics"]
            == detail["trainingResultV2"]["variableImportanceMetrics"]
        )
    # a new major version still follows the highest major
    started = client.create_model_version(
        modelId=MODEL,
        modelType=MODEL_TYPE,
        trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema=SCHEMA,
        externalEventsDetail=moved,
    )
    assert started["modelVersionNumber"] == "2.0"
    assert _finished(client, "2.0") == "TRAINING_COMPLETE"


def test_update_model_version_refusals(setup: Setup) -> None:
    client = setup.client
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="major version 7"):
        client.update_model_version(modelId=MODEL, modelType=MODEL_TYPE, majorVersionNumber="7")
    window = {"startTime": "2024-01-01T00:00:00Z", "endTime": "2024-02-01T00:00:00Z"}
    with pytest.raises(client.exceptions.ValidationException, match="EXTERNAL_EVENTS"):
        client.update_model_version(
            modelId=MODEL,
            modelType=MODEL_TYPE,
            majorVersionNumber="1",
            ingestedEventsDetail={"ingestedEventsTimeWindow": window},
        )
    with pytest.raises(client.exceptions.ValidationException, match="no such file"):
        client.update_model_version(
            modelId=MODEL,
            modelType=MODEL_TYPE,
            majorVersionNumber="1",
            externalEventsDetail={
                "dataLocation": f"file://{setup.data / 'missing.csv'}",
                "dataAccessRoleArn": ROLE,
            },
        )


def test_rule_and_detector_version_metadata(setup: Setup) -> None:
    client = setup.client
    client.put_detector(detectorId="metadata", eventTypeName="transaction")
    rule = client.create_rule(
        ruleId="big",
        detectorId="metadata",
        expression="$transaction_amt > 1000",
        language="DETECTORPL",
        outcomes=["review"],
    )["rule"]
    client.update_rule_metadata(rule=rule, description="large payments")
    (details,) = client.get_rules(detectorId="metadata", ruleId="big", ruleVersion="1")[
        "ruleDetails"
    ]
    assert details["description"] == "large payments"
    assert details["expression"] == "$transaction_amt > 1000"

    client.create_detector_version(detectorId="metadata", rules=[rule])
    client.update_detector_version_status(
        detectorId="metadata", detectorVersionId="1", status="ACTIVE"
    )
    client.update_detector_version_metadata(
        detectorId="metadata", detectorVersionId="1", description="only amounts"
    )
    version = client.get_detector_version(detectorId="metadata", detectorVersionId="1")
    assert (version["status"], version["description"]) == ("ACTIVE", "only amounts")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.update_detector_version_metadata(
            detectorId="metadata", detectorVersionId="9", description="x"
        )


def _send(client: Any, event_type: str, records: list[dict[str, Any]]) -> None:
    for record in records:
        client.send_event(
            eventId=record["event_id"],
            eventTypeName=event_type,
            eventTimestamp=record["event_time"],
            eventVariables={"transaction_amt": str(record["transaction_amt"])},
            entities=[{"entityType": "customer", "entityId": record["entity_id"]}],
            assignedLabel=record["label"],
            labelTimestamp=record["event_time"],
        )


def test_delete_events_by_event_type(setup: Setup) -> None:
    client = setup.client
    client.put_event_type(
        name="purge_me",
        eventVariables=["transaction_amt"],
        entityTypes=["customer"],
        labels=["fraud", "legit"],
    )
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="no deletion"):
        client.get_delete_events_by_event_type_status(eventTypeName="purge_me")
    records = transactions(40, seed=22, start=T0)
    _send(client, "purge_me", records)
    _send(client, "transaction", records[:1])  # another event type keeps its events
    stored = client.get_event(eventId=records[0]["event_id"], eventTypeName="purge_me")["event"]
    assert stored["eventTimestamp"] == records[0]["event_time"]  # as sent: no milliseconds
    assert stored["labelTimestamp"] == records[0]["event_time"]

    answer = client.delete_events_by_event_type(eventTypeName="purge_me")
    assert answer["eventsDeletionStatus"] == "IN_PROGRESS"
    deadline = time.monotonic() + 30
    while (status := client.get_delete_events_by_event_type_status(eventTypeName="purge_me"))[
        "eventsDeletionStatus"
    ] == "IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status["eventsDeletionStatus"] == "COMPLETE"
    for record in records:
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_event(eventId=record["event_id"], eventTypeName="purge_me")
    assert client.get_event(eventId=records[0]["event_id"], eventTypeName="transaction")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_events_by_event_type(eventTypeName="no_such_type")


def test_delete_event_type_deletes_its_events(setup: Setup) -> None:
    client = setup.client
    definition = {
        "name": "short_lived",
        "eventVariables": ["transaction_amt"],
        "entityTypes": ["customer"],
        "labels": ["fraud", "legit"],
    }
    client.put_event_type(**definition)
    records = transactions(3, seed=23, start=T0)
    _send(client, "short_lived", records)
    client.delete_event_type(name="short_lived")
    client.put_event_type(**definition)  # the same name again starts empty
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_event(eventId=records[0]["event_id"], eventTypeName="short_lived")


def test_operations_still_unsupported_say_so(setup: Setup) -> None:
    client = setup.client
    with pytest.raises(
        client.exceptions.ValidationException, match="GetExternalModels is not supported"
    ):
        client.get_external_models()
    with pytest.raises(
        client.exceptions.ValidationException, match="CancelBatchImportJob is not supported"
    ):
        client.cancel_batch_import_job(jobId="any")
