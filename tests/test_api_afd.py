"""The whole AFD workflow through an unchanged boto3 client against a real server:
define -> train from a CSV -> activate -> detector, rules, version -> predict as the reference
UDF does -> audit -> send and label events -> retrain from ingested events -> more versions,
switches, rule modes, lists, pagination, batch jobs, and every error class."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.exceptions
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from test_api_support import (
    ACCESS_KEY,
    ROLE,
    SECRET_KEY,
    T0,
    TRANSACTION_VARIABLE_NAMES,
    RunningServer,
    define_transaction_type,
    event_variables,
    iso,
    predict_udf,
    running_server,
    transactions,
    wait_for,
    write_afd_csv,
)

MODEL = "fraud_model"
MODEL_TYPE = "TRANSACTION_FRAUD_INSIGHTS"
DETECTOR = "payments"
SCORE = f"{MODEL}_insightscore"
LABELS = {
    "labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]},
    "unlabeledEventsTreatment": "IGNORE",
}


@dataclass
class Trained:
    server: RunningServer
    client: Any
    data: Path
    rules: list[dict[str, str]]


def _train(client: Any, server: RunningServer, **source: Any) -> str:
    """Start a model version and wait for TRAINING_COMPLETE; returns its number."""
    started = client.create_model_version(
        modelId=MODEL,
        modelType=MODEL_TYPE,
        trainingDataSchema={"modelVariables": TRANSACTION_VARIABLE_NAMES, "labelSchema": LABELS},
        **source,
    )
    assert started["status"] == "TRAINING_IN_PROGRESS"
    number = started["modelVersionNumber"]

    def finished() -> str | None:
        status = client.get_model_version(
            modelId=MODEL, modelType=MODEL_TYPE, modelVersionNumber=number
        )["status"]
        return None if status == "TRAINING_IN_PROGRESS" else status

    status = wait_for(finished, timeout=240)
    if status != "TRAINING_COMPLETE":
        doc = server.engine.registry.model_version(MODEL, MODEL_TYPE, number)
        pytest.fail(f"training ended {status}: {doc.get('statusReason')}")
    return str(number)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    home = tmp_path_factory.mktemp("afd")
    data = home / "data"
    data.mkdir()
    with running_server(home) as server:
        client = server.client()
        define_transaction_type(client)
        csv_path = write_afd_csv(data / "train.csv", transactions(3000, seed=0))
        client.create_model(modelId=MODEL, modelType=MODEL_TYPE, eventTypeName="transaction")
        number = _train(
            client,
            server,
            trainingDataSource="EXTERNAL_EVENTS",
            externalEventsDetail={"dataLocation": f"file://{csv_path}", "dataAccessRoleArn": ROLE},
        )
        assert number == "1.0"
        client.update_model_version_status(
            modelId=MODEL, modelType=MODEL_TYPE, modelVersionNumber=number, status="ACTIVE"
        )
        client.put_detector(detectorId=DETECTOR, eventTypeName="transaction")
        rules = [
            client.create_rule(
                ruleId=rule_id,
                detectorId=DETECTOR,
                expression=expression,
                language="DETECTORPL",
                outcomes=[outcome],
            )["rule"]
            for rule_id, expression, outcome in (
                ("high_risk", f"${SCORE} > 700", "block"),
                ("medium_risk", f"${SCORE} > 400", "review"),
                ("low_risk", f"${SCORE} <= 400", "approve"),
            )
        ]
        version = client.create_detector_version(
            detectorId=DETECTOR,
            rules=rules,
            modelVersions=[
                {"modelId": MODEL, "modelType": MODEL_TYPE, "modelVersionNumber": number}
            ],
            ruleExecutionMode="FIRST_MATCHED",
            description="score bands",
        )
        assert version == {**version, "detectorVersionId": "1", "status": "DRAFT"}
        client.update_detector_version_status(
            detectorId=DETECTOR, detectorVersionId="1", status="ACTIVE"
        )
        yield Trained(server, client, data, rules)


def _score(answer: dict[str, Any]) -> float:
    (model_score,) = answer["modelScores"]
    return float(model_score["scores"][SCORE])


def test_training_metrics_are_reported(trained: Trained) -> None:
    details = trained.client.describe_model_versions(modelId=MODEL, modelType=MODEL_TYPE)
    (version,) = details["modelVersionDetails"]
    assert version["status"] == "ACTIVE"
    tfi = version["trainingResultV2"]["trainingMetricsV2"]["tfi"]
    assert tfi["modelPerformance"]["auc"] > 0.8
    assert {"fpr", "precision", "tpr", "threshold"} <= set(tfi["metricDataPoints"][0])
    importance = version["trainingResultV2"]["variableImportanceMetrics"]["logOddsMetrics"]
    assert importance
    assert all("variableName" in m for m in importance)


def test_prediction_with_the_reference_udf_call_shape(trained: Trained) -> None:
    fresh = transactions(300, seed=1, start=T0 + 31 * 86400, fraud_rate=0.2)
    scores: dict[str, list[float]] = {"fraud": [], "legit": []}
    for record in fresh:
        answer = predict_udf(trained.client, DETECTOR, record)
        score = _score(answer)
        assert 0 <= score <= 1000
        reference = answer["modelScores"][0]["modelVersion"]
        assert {k: reference[k] for k in ("modelId", "modelType", "modelVersionNumber")} == {
            "modelId": MODEL,
            "modelType": MODEL_TYPE,
            "modelVersionNumber": "1.0",
        }
        (rule,) = answer["ruleResults"]  # FIRST_MATCHED: exactly one band matches
        expected = "high_risk" if score > 700 else "medium_risk" if score > 400 else "low_risk"
        assert rule["ruleId"] == expected
        scores[record["label"]].append(score)
    mean = {k: sum(v) / len(v) for k, v in scores.items()}
    assert mean["fraud"] > mean["legit"] + 200, mean


def test_explicit_version_and_missing_active_version(trained: Trained) -> None:
    record = transactions(1, seed=2, start=T0 + 32 * 86400)[0]
    answer = predict_udf(trained.client, DETECTOR, record, detectorVersionId="1")
    assert answer["ruleResults"]
    with pytest.raises(trained.client.exceptions.ResourceNotFoundException):
        predict_udf(trained.client, DETECTOR, record, detectorVersionId="99")


def test_prediction_metadata_and_listing(trained: Trained) -> None:
    record = transactions(1, seed=3, start=T0 + 33 * 86400)[0]
    predict_udf(trained.client, DETECTOR, record)
    listed = trained.client.list_event_predictions(
        eventId={"value": record["event_id"]}, detectorId={"value": DETECTOR}
    )["eventPredictionSummaries"]
    (summary,) = listed
    assert summary["detectorVersionId"] == "1"
    meta = trained.client.get_event_prediction_metadata(
        eventId=record["event_id"],
        eventTypeName="transaction",
        detectorId=DETECTOR,
        detectorVersionId="1",
        predictionTimestamp=summary["predictionTimestamp"],
    )
    assert meta["entityId"] == record["entity_id"]
    assert meta["detectorVersionStatus"] == "ACTIVE"
    assert meta["ruleExecutionMode"] == "FIRST_MATCHED"
    assert meta["rules"][0]["evaluated"] is True
    assert any(r["matched"] for r in meta["rules"])
    (evaluated,) = meta["evaluatedModelVersions"]
    assert evaluated["modelId"] == MODEL
    assert evaluated["evaluations"][0]["outputVariableName"] == SCORE
    variables = {v["name"]: v["value"] for v in meta["eventVariables"]}
    assert variables["email_address"] == record["email_address"]
    assert meta["predictionTimestamp"] == summary["predictionTimestamp"]


def test_send_label_and_retrain_from_ingested_events(trained: Trained) -> None:
    client = trained.client
    start = T0 + 40 * 86400
    fresh = transactions(1500, seed=4, start=start, fraud_rate=0.1)
    for i, record in enumerate(fresh):
        labelled = i % 2 == 0
        client.send_event(
            eventId=record["event_id"],
            eventTypeName="transaction",
            eventTimestamp=record["event_time"],
            eventVariables=event_variables(record),
            entities=[{"entityType": "customer", "entityId": record["entity_id"]}],
            **(
                {"assignedLabel": record["label"], "labelTimestamp": record["event_time"]}
                if labelled
                else {}
            ),
        )
    for record in fresh[1::2]:
        client.update_event_label(
            eventId=record["event_id"],
            eventTypeName="transaction",
            assignedLabel=record["label"],
            labelTimestamp=iso(start + 31 * 86400),
        )
    stored = client.get_event(eventId=fresh[1]["event_id"], eventTypeName="transaction")["event"]
    assert stored["currentLabel"] == fresh[1]["label"]
    assert stored["eventVariables"]["card_bin"] == str(fresh[1]["card_bin"])
    assert stored["entities"] == [{"entityType": "customer", "entityId": fresh[1]["entity_id"]}]
    (event_type,) = client.get_event_types(name="transaction")["eventTypes"]
    statistics = event_type["ingestedEventStatistics"]
    assert statistics["numberOfEvents"] >= len(fresh)
    assert statistics["eventDataSizeInBytes"] > 0
    assert statistics["mostRecentEvent"] >= max(r["event_time"] for r in fresh)

    window = {"startTime": iso(start - 1), "endTime": iso(start + 31 * 86400)}
    number = _train(
        client,
        trained.server,
        trainingDataSource="INGESTED_EVENTS",
        ingestedEventsDetail={"ingestedEventsTimeWindow": window},
    )
    assert number == "2.0"
    version = client.get_model_version(
        modelId=MODEL, modelType=MODEL_TYPE, modelVersionNumber=number
    )
    assert version["trainingDataSource"] == "INGESTED_EVENTS"
    assert version["ingestedEventsDetail"]["ingestedEventsTimeWindow"] == window


def test_second_version_rule_modes_and_switching(trained: Trained) -> None:
    client = trained.client
    created = client.create_detector_version(
        detectorId=DETECTOR,
        rules=trained.rules,
        modelVersions=[{"modelId": MODEL, "modelType": MODEL_TYPE, "modelVersionNumber": "1.0"}],
        ruleExecutionMode="ALL_MATCHED",
    )
    number = created["detectorVersionId"]
    fetched = client.get_detector_version(detectorId=DETECTOR, detectorVersionId=number)
    assert fetched["ruleExecutionMode"] == "ALL_MATCHED"
    assert fetched["status"] == "DRAFT"
    assert [r["ruleId"] for r in fetched["rules"]] == ["high_risk", "medium_risk", "low_risk"]

    records = iter(transactions(400, seed=5, start=T0 + 35 * 86400, fraud_rate=0.5))

    def next_high_scoring(version: str | None) -> dict[str, Any]:
        for record in records:
            extra = {"detectorVersionId": version} if version else {}
            answer = predict_udf(client, DETECTOR, record, **extra)
            if _score(answer) > 700:
                return answer
        raise AssertionError("no record scored above 700")

    # The draft answers when named; the ACTIVE version still answers by default.
    all_matched = next_high_scoring(number)
    assert [r["ruleId"] for r in all_matched["ruleResults"]] == ["high_risk", "medium_risk"]
    first_matched = next_high_scoring(None)
    assert [r["ruleId"] for r in first_matched["ruleResults"]] == ["high_risk"]

    client.update_detector_version_status(
        detectorId=DETECTOR, detectorVersionId=number, status="ACTIVE"
    )
    switched = next_high_scoring(None)
    assert [r["ruleId"] for r in switched["ruleResults"]] == ["high_risk", "medium_risk"]
    statuses = {
        s["detectorVersionId"]: s["status"]
        for s in client.describe_detector(detectorId=DETECTOR)["detectorVersionSummaries"]
    }
    assert statuses == {"1": "INACTIVE", number: "ACTIVE"}
    with pytest.raises(client.exceptions.ConflictException):
        client.update_detector_version(
            detectorId=DETECTOR,
            detectorVersionId=number,
            rules=trained.rules,
            externalModelEndpoints=[],
        )
    client.update_detector_version_status(
        detectorId=DETECTOR, detectorVersionId="1", status="ACTIVE"
    )
    back = next_high_scoring(None)
    assert [r["ruleId"] for r in back["ruleResults"]] == ["high_risk"]


def test_lists_in_rules(trained: Trained) -> None:
    client = trained.client
    client.create_list(
        name="watch_emails", elements=["nobody@example.com"], variableType="EMAIL_ADDRESS"
    )
    listed = client.create_rule(
        ruleId="watchlist",
        detectorId=DETECTOR,
        expression="$email_address in @watch_emails",
        language="DETECTORPL",
        outcomes=["review"],
    )["rule"]
    always = client.create_rule(
        ruleId="otherwise",
        detectorId=DETECTOR,
        expression=f"${SCORE} >= 0",
        language="DETECTORPL",
        outcomes=["approve"],
    )["rule"]
    version = client.create_detector_version(
        detectorId=DETECTOR,
        rules=[listed, always],
        modelVersions=[{"modelId": MODEL, "modelType": MODEL_TYPE, "modelVersionNumber": "1.0"}],
    )["detectorVersionId"]
    record = transactions(1, seed=6, start=T0 + 36 * 86400)[0]
    first = predict_udf(client, DETECTOR, record, detectorVersionId=version)
    assert [r["ruleId"] for r in first["ruleResults"]] == ["otherwise"]
    client.update_list(name="watch_emails", elements=[record["email_address"]], updateMode="APPEND")
    again = dict(record, event_id=record["event_id"] + "-again")
    second = predict_udf(client, DETECTOR, again, detectorVersionId=version)
    assert [r["ruleId"] for r in second["ruleResults"]] == ["watchlist"]
    elements = client.get_list_elements(name="watch_emails")["elements"]
    assert elements == ["nobody@example.com", record["email_address"]]
    meta = client.get_lists_metadata(name="watch_emails")["lists"][0]
    assert meta["variableType"] == "EMAIL_ADDRESS"
    assert "elements" not in meta
    with pytest.raises(client.exceptions.ValidationException, match="list"):
        client.create_rule(
            ruleId="ghost_list",
            detectorId=DETECTOR,
            expression="$email_address in @no_such_list",
            language="DETECTORPL",
            outcomes=["review"],
        )


def test_pagination(trained: Trained) -> None:
    client = trained.client
    for i in range(12):
        client.put_entity_type(name=f"merchant_{i:02d}")
    names: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = client.get_entity_types(maxResults=5, **({"nextToken": token} if token else {}))
        names += [e["name"] for e in page["entityTypes"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert pages == 3
    assert names == sorted({*names})
    assert len(names) == 13

    client.create_list(name="many", elements=[f"e{i:05d}" for i in range(1200)])
    elements: list[str] = []
    token = None
    while True:
        page = client.get_list_elements(
            name="many", maxResults=500, **({"nextToken": token} if token else {})
        )
        elements += page["elements"]
        token = page.get("nextToken")
        if not token:
            break
    assert elements == [f"e{i:05d}" for i in range(1200)]

    for record in transactions(60, seed=11, start=T0 + 39 * 86400):
        predict_udf(client, DETECTOR, record)
    seen: list[tuple[str, str]] = []
    page = client.list_event_predictions(maxResults=50)
    seen += [(s["eventId"], s["predictionTimestamp"]) for s in page["eventPredictionSummaries"]]
    assert len(seen) == 50
    assert "nextToken" in page
    page = client.list_event_predictions(maxResults=50, nextToken=page["nextToken"])
    more = [(s["eventId"], s["predictionTimestamp"]) for s in page["eventPredictionSummaries"]]
    assert more
    assert not set(more) & set(seen)
    with pytest.raises(client.exceptions.ValidationException, match="nextToken"):
        client.get_entity_types(nextToken="not a token!")


def test_batch_import_and_batch_prediction(trained: Trained) -> None:
    client = trained.client
    records = transactions(120, seed=7, start=T0 + 50 * 86400)
    source = write_afd_csv(trained.data / "import.csv", records)
    with source.open("a") as handle:
        handle.write("broken,row\n")
    client.create_batch_import_job(
        jobId="import-1",
        inputPath=str(source),
        outputPath=str(trained.data / "out"),
        eventTypeName="transaction",
        iamRoleArn=ROLE,
    )

    def import_done() -> dict[str, Any] | None:
        (job,) = client.get_batch_import_jobs(jobId="import-1")["batchImports"]
        return None if job["status"].startswith("IN_PROGRESS") else job

    job = wait_for(import_done, timeout=60)
    assert job["status"] == "COMPLETE", job
    assert (job["processedRecordsCount"], job["failedRecordsCount"]) == (120, 1)
    assert job["totalRecordsCount"] == 121
    imported = client.get_event(eventId=records[5]["event_id"], eventTypeName="transaction")
    assert imported["event"]["currentLabel"] == records[5]["label"]
    with (trained.data / "out" / "import-1-failed-records.csv").open() as handle:
        failures = list(csv.reader(handle))
    assert len(failures) == 2
    assert "fields" in failures[1][-1]

    unlabelled = write_afd_csv(
        trained.data / "score.csv", transactions(40, seed=8, start=T0 + 51 * 86400), labels=False
    )
    client.create_batch_prediction_job(
        jobId="score-1",
        inputPath=f"file://{unlabelled}",
        outputPath=str(trained.data / "scored.csv"),
        eventTypeName="transaction",
        detectorName=DETECTOR,
        iamRoleArn=ROLE,
    )

    def scored() -> dict[str, Any] | None:
        (job,) = client.get_batch_prediction_jobs(jobId="score-1")["batchPredictions"]
        return None if job["status"].startswith("IN_PROGRESS") else job

    job = wait_for(scored, timeout=60)
    assert job["status"] == "COMPLETE", job
    assert job["processedRecordsCount"] == job["totalRecordsCount"] == 40
    with (trained.data / "scored.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40
    assert all(0 <= float(r[SCORE]) <= 1000 and r["OUTCOMES"] for r in rows)
    assert all(r["DETECTOR_VERSION_ID"] == "1" for r in rows)

    with pytest.raises(client.exceptions.ValidationException, match="data folders"):
        client.create_batch_import_job(
            jobId="import-2",
            inputPath="/etc/passwd",
            outputPath=str(trained.data),
            eventTypeName="transaction",
            iamRoleArn=ROLE,
        )
    with pytest.raises(client.exceptions.ConflictException):
        client.create_batch_import_job(
            jobId="import-1",
            inputPath=str(source),
            outputPath=str(trained.data / "out"),
            eventTypeName="transaction",
            iamRoleArn=ROLE,
        )


def test_resource_not_found(trained: Trained) -> None:
    client = trained.client
    record = transactions(1, seed=9, start=T0 + 37 * 86400)[0]
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="unknown_detector"):
        predict_udf(client, "unknown_detector", record)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_model_version(modelId=MODEL, modelType=MODEL_TYPE, modelVersionNumber="9.0")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_detector(detectorId="nothing_here")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_event(eventId="never-sent", eventTypeName="transaction")


def test_validation_errors_name_the_field(trained: Trained) -> None:
    client = trained.client
    record = transactions(1, seed=10, start=T0 + 38 * 86400)[0]
    with pytest.raises(client.exceptions.ValidationException, match="'detectorId'"):
        client.get_detectors(detectorId="Not Valid!")
    with pytest.raises(client.exceptions.ValidationException, match="'maxResults'"):
        client.get_entity_types(maxResults=1000)
    bad_vars = dict(event_variables(record), shoe_size="44")
    with pytest.raises(client.exceptions.ValidationException, match="shoe_size"):
        client.get_event_prediction(
            detectorId=DETECTOR,
            eventId="x1",
            eventTypeName="transaction",
            entities=[{"entityType": "customer", "entityId": "c1"}],
            eventTimestamp=record["event_time"],
            eventVariables=bad_vars,
        )
    with pytest.raises(client.exceptions.ValidationException, match="transaction_amt"):
        client.get_event_prediction(
            detectorId=DETECTOR,
            eventId="x2",
            eventTypeName="transaction",
            entities=[{"entityType": "customer", "entityId": "c1"}],
            eventTimestamp=record["event_time"],
            eventVariables=dict(event_variables(record), transaction_amt="lots"),
        )
    with pytest.raises(client.exceptions.ValidationException, match="entity type"):
        client.get_event_prediction(
            detectorId=DETECTOR,
            eventId="x3",
            eventTypeName="transaction",
            entities=[{"entityType": "merchant", "entityId": "m1"}],
            eventTimestamp=record["event_time"],
            eventVariables=event_variables(record),
        )
    with pytest.raises(client.exceptions.ValidationException, match="ISO 8601"):
        client.get_event_prediction(
            detectorId=DETECTOR,
            eventId="x4",
            eventTypeName="transaction",
            entities=[{"entityType": "customer", "entityId": "c1"}],
            eventTimestamp="last tuesday!",
            eventVariables=event_variables(record),
        )
    with pytest.raises(client.exceptions.ValidationException, match="modelVariables"):
        client.create_model_version(
            modelId=MODEL,
            modelType=MODEL_TYPE,
            trainingDataSource="EXTERNAL_EVENTS",
            trainingDataSchema={"modelVariables": ["nope"], "labelSchema": LABELS},
            externalEventsDetail={
                "dataLocation": str(trained.data / "train.csv"),
                "dataAccessRoleArn": ROLE,
            },
        )
    with pytest.raises(client.exceptions.ValidationException, match="no such file"):
        client.create_model_version(
            modelId=MODEL,
            modelType=MODEL_TYPE,
            trainingDataSource="EXTERNAL_EVENTS",
            trainingDataSchema={
                "modelVariables": TRANSACTION_VARIABLE_NAMES,
                "labelSchema": LABELS,
            },
            externalEventsDetail={
                "dataLocation": str(trained.data / "gone.csv"),
                "dataAccessRoleArn": ROLE,
            },
        )


def test_conflicts(trained: Trained) -> None:
    client = trained.client
    with pytest.raises(client.exceptions.ConflictException):
        client.delete_event_type(name="transaction")
    with pytest.raises(client.exceptions.ConflictException):
        client.delete_detector_version(detectorId=DETECTOR, detectorVersionId="1")
    with pytest.raises(client.exceptions.ConflictException):
        client.create_variable(
            name="transaction_amt", dataType="FLOAT", dataSource="EVENT", defaultValue="0"
        )


def test_unsupported_operations_say_so(trained: Trained) -> None:
    client = trained.client
    arn = client.describe_detector(detectorId=DETECTOR)["arn"]
    with pytest.raises(client.exceptions.ValidationException, match="TagResource is not supported"):
        client.tag_resource(resourceARN=arn, tags=[{"key": "team", "value": "risk"}])
    with pytest.raises(client.exceptions.ValidationException, match="not supported by fraudstream"):
        client.get_kms_encryption_key()


def test_bad_credentials(trained: Trained) -> None:
    wrong = trained.server.client(aws_secret_access_key="not-the-secret-0123456789")
    with pytest.raises(wrong.exceptions.AccessDeniedException, match="signature"):
        wrong.get_detectors()
    unknown = trained.server.client(aws_access_key_id="AKIANOBODY0000000000")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        unknown.get_detectors()
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def _raw_request(
    url: str,
    target: str,
    body: bytes,
    *,
    when: datetime | None = None,
    content_type: str | None = None,
) -> httpx.Response:
    """A request signed by hand (to control the clock, the body and the headers)."""
    headers = {
        "Content-Type": content_type or "application/x-amz-json-1.1",
        "X-Amz-Target": f"AWSHawksNestServiceFacade.{target}",
    }
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    request.context["timestamp"] = stamp
    request.headers["X-Amz-Date"] = stamp
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "frauddetector", "us-east-1")
    request.headers["Host"] = url.removeprefix("http://")
    signature = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    signed = signer.signed_headers(signer.headers_to_sign(request))
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{stamp[:8]}/us-east-1/frauddetector/"
        f"aws4_request, SignedHeaders={signed}, Signature={signature}"
    )
    return httpx.post(url + "/", content=body, headers=dict(request.headers.items()))


def test_wire_level_errors(trained: Trained) -> None:
    url = trained.server.url
    ok = _raw_request(url, "GetDetectors", b"{}")
    assert ok.status_code == 200
    assert ok.json()["detectors"]
    skewed = _raw_request(
        url, "GetDetectors", b"{}", when=datetime.now(UTC) - timedelta(minutes=20)
    )
    assert skewed.status_code == 403
    assert skewed.json()["__type"] == "AccessDeniedException"
    assert "expired" in skewed.json()["message"]
    garbage = _raw_request(url, "GetDetectors", b"{nope")
    assert garbage.status_code == 400
    assert garbage.json()["__type"] == "SerializationException"
    unknown = _raw_request(url, "MakeItRain", b"{}")
    assert unknown.json()["__type"] == "UnknownOperationException"
    xml = _raw_request(url, "GetDetectors", b"{}", content_type="text/xml")
    assert xml.json()["__type"] == "SerializationException"
    unsigned = httpx.post(
        url + "/", content=b"{}", headers={"X-Amz-Target": "AWSHawksNestServiceFacade.GetDetectors"}
    )
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-errortype"] == "AccessDeniedException"
    assert unsigned.headers["content-type"] == "application/x-amz-json-1.1"
