"""The REST API against a real server: httpx for REST, boto3 where both APIs must agree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from test_api_support import (
    API_KEY,
    RunningServer,
    define_transaction_type,
    running_server,
    transaction_record,
    transactions,
)

DETECTOR = "fraudstream_detector"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("rest")) as running:
        afd = running.client()
        define_transaction_type(afd)
        afd.put_detector(detectorId=DETECTOR, eventTypeName="transaction")
        afd.create_list(name="blocked_ips", elements=["203.0.113.9"])
        rules = [
            afd.create_rule(
                ruleId=rule_id,
                detectorId=DETECTOR,
                expression=expression,
                language="DETECTORPL",
                outcomes=[outcome],
            )["rule"]
            for rule_id, expression, outcome in (
                ("block_big", "$transaction_amt > 1000", "block"),
                ("review_listed", "$ip_address in @blocked_ips", "review"),
                ("approve_rest", "$transaction_amt <= 1000", "approve"),
            )
        ]
        afd.create_detector_version(detectorId=DETECTOR, rules=rules)
        afd.update_detector_version_status(
            detectorId=DETECTOR, detectorVersionId="1", status="ACTIVE"
        )
        yield running


@pytest.fixture(scope="module")
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        yield client


def _record(i: int, **changes: Any) -> dict[str, Any]:
    record = transaction_record(transactions(1, seed=1000 + i)[0])
    record["transaction_amt"] = 25.0
    record.update(changes)
    return record


def test_health_needs_no_key(server: RunningServer) -> None:
    response = httpx.get(f"{server.url}/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-0123456789"},
        {"X-API-Key": "nope"},
        {"Authorization": "Basic eDp5"},
    ],
)
def test_rest_requires_an_api_key(server: RunningServer, headers: dict[str, str]) -> None:
    response = httpx.get(f"{server.url}/v1/detectors/{DETECTOR}/versions", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_x_api_key_header_works(server: RunningServer) -> None:
    response = httpx.get(
        f"{server.url}/v1/detectors/{DETECTOR}/versions", headers={"X-API-Key": API_KEY}
    )
    assert response.status_code == 200


def test_predict_one_transaction(http: httpx.Client) -> None:
    small = http.post("/v1/predictions", json=_record(1))
    assert small.status_code == 200, small.text
    body = small.json()
    assert body["outcome"] == "approve"
    assert body["detector_id"] == DETECTOR
    assert body["detector_version_id"] == "1"
    assert [r["rule_id"] for r in body["rules"]] == ["approve_rest"]
    big = http.post("/v1/predictions", json=_record(2, transaction_amt=5000))
    assert big.json()["outcome"] == "block"
    listed = http.post("/v1/predictions", json=_record(3, ip_address="203.0.113.9"))
    assert listed.json()["outcomes"] == ["review"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email_address": "not-an-email"}, "email_address"),
        ({"transaction_amt": "lots"}, "transaction_amt"),
        ({"product_category": "weapons"}, "product_category"),
        ({"card_bin": 12}, "card_bin"),
        ({"event_time": "yesterday"}, "event_time"),
    ],
)
def test_invalid_transaction_names_the_field(
    http: httpx.Client, changes: dict[str, Any], field: str
) -> None:
    response = http.post("/v1/predictions", json=_record(4, **changes))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert field in [p["field"] for p in error["problems"]]
    assert "not-an-email" not in error["message"]  # values are not echoed (PII)


def test_missing_fields_and_bad_bodies(http: httpx.Client) -> None:
    record = _record(5)
    del record["ip_address"]
    response = http.post("/v1/predictions", json=record)
    assert response.status_code == 400
    assert "ip_address" in [p["field"] for p in response.json()["error"]["problems"]]
    for content in (b"{not json", b"[1, 2]", b""):
        response = http.post(
            "/v1/predictions", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, content


def test_unknown_detector_and_bad_version(http: httpx.Client) -> None:
    response = http.post("/v1/predictions", params={"detector_id": "nope"}, json=_record(6))
    assert response.status_code == 404
    response = http.post("/v1/predictions", params={"version": "v1"}, json=_record(6))
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "version"


def test_batch(http: httpx.Client) -> None:
    records = [_record(10 + i, transaction_amt=amount) for i, amount in enumerate((5, 5000, 50))]
    response = http.post("/v1/predictions/batch", json={"transactions": records})
    assert response.status_code == 200, response.text
    outcomes = [d["outcome"] for d in response.json()["decisions"]]
    assert outcomes == ["approve", "block", "approve"]
    assert [d["event_id"] for d in response.json()["decisions"]] == [r["event_id"] for r in records]


def test_batch_rejects_bad_items_and_sizes(http: httpx.Client) -> None:
    records = [_record(20), _record(21, email_address="x"), _record(22)]
    response = http.post("/v1/predictions/batch", json={"transactions": records})
    assert response.status_code == 400
    fields = [p["field"] for p in response.json()["error"]["problems"]]
    assert fields == ["transactions[1].email_address"]
    for body in ({"transactions": []}, {"records": []}, {"transactions": [{}] * 1001}):
        assert http.post("/v1/predictions/batch", json=body).status_code == 400


def test_full_batch_of_1000(http: httpx.Client) -> None:
    records = [transaction_record(r) for r in transactions(1000, seed=60)]
    response = http.post("/v1/predictions/batch", json={"transactions": records})
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["decisions"]) == 1000


def test_payload_limit(server: RunningServer, http: httpx.Client) -> None:
    huge = b'{"x": "' + b"a" * (300 * 1024) + b'"}'
    response = http.post(
        "/v1/predictions", content=huge, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    bigger = b'{"x": "' + b"a" * (1100 * 1024) + b'"}'
    response = http.post(
        "/v1/predictions/batch", content=bigger, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    afd = httpx.post(
        server.url + "/",
        content=huge,
        headers={"X-Amz-Target": "AWSHawksNestServiceFacade.GetDetectors"},
    )
    assert afd.status_code == 413
    assert afd.json()["__type"] == "ValidationException"


def test_events_and_labels_agree_with_afd(server: RunningServer, http: httpx.Client) -> None:
    record = _record(30, transaction_amt=4321.5)
    assert http.post("/v1/predictions", json=record).status_code == 200
    path = f"/v1/events/transaction/{record['event_id']}"
    stored = http.get(path)
    assert stored.status_code == 200
    body = stored.json()
    assert body["entity_id"] == record["entity_id"]
    assert body["variables"]["transaction_amt"] == 4321.5
    assert body["label"] is None
    assert body["predictions"][0]["outcome"] == "block"

    labelled = http.put(path + "/label", json={"label": "fraud"})
    assert labelled.status_code == 200, labelled.text
    assert http.get(path).json()["label"] == "fraud"
    afd = server.client().get_event(eventId=record["event_id"], eventTypeName="transaction")
    assert afd["event"]["currentLabel"] == "fraud"

    assert http.put(path + "/label", json={"label": "stolen"}).status_code == 400
    assert http.put(path + "/label", json={"label": "fraud", "extra": 1}).status_code == 400
    assert http.get("/v1/events/transaction/never-seen").status_code == 404
    assert (
        http.put("/v1/events/transaction/never-seen/label", json={"label": "fraud"}).status_code
        == 404
    )


def test_versions_and_activation(server: RunningServer, http: httpx.Client) -> None:
    afd = server.client()
    rules = [{"detectorId": DETECTOR, "ruleId": "approve_rest", "ruleVersion": "1"}]
    created = afd.create_detector_version(
        detectorId=DETECTOR, rules=rules, description="approve only"
    )
    version = created["detectorVersionId"]
    listed = http.get(f"/v1/detectors/{DETECTOR}/versions").json()
    statuses = {v["version_id"]: v["status"] for v in listed["versions"]}
    assert statuses["1"] == "ACTIVE"
    assert statuses[version] == "DRAFT"

    activated = http.post(f"/v1/detectors/{DETECTOR}/versions/{version}/activate")
    assert activated.status_code == 200
    assert activated.json()["status"] == "ACTIVE"
    decision = http.post("/v1/predictions", json=_record(40, transaction_amt=9000)).json()
    assert decision["detector_version_id"] == version
    assert decision["outcomes"] == []  # only the approve rule, which does not match

    assert http.post(f"/v1/detectors/{DETECTOR}/versions/1/activate").status_code == 200
    decision = http.post("/v1/predictions", json=_record(41, transaction_amt=9000)).json()
    assert decision["detector_version_id"] == "1"
    assert decision["outcome"] == "block"
    assert http.post(f"/v1/detectors/{DETECTOR}/versions/999/activate").status_code == 404
    assert http.get("/v1/detectors/missing/versions").status_code == 404


def test_lists(http: httpx.Client) -> None:
    assert http.get("/v1/lists/not_there").status_code == 404
    created = http.put("/v1/lists/vip_emails", json={"elements": ["a@example.com"]})
    assert created.status_code == 200
    assert created.json()["elements"] == ["a@example.com"]
    appended = http.put(
        "/v1/lists/vip_emails", json={"elements": ["b@example.com"], "mode": "APPEND"}
    )
    assert appended.json()["elements"] == ["a@example.com", "b@example.com"]
    removed = http.put(
        "/v1/lists/vip_emails", json={"elements": ["a@example.com"], "mode": "REMOVE"}
    )
    assert removed.json()["elements"] == ["b@example.com"]
    bad = http.put("/v1/lists/vip_emails", json={"elements": [" padded "]})
    assert bad.status_code == 400
    assert bad.json()["error"]["problems"][0]["field"].startswith("elements")


def test_list_updates_change_decisions_at_once(http: httpx.Client) -> None:
    record = _record(50, ip_address="198.51.100.77")
    assert http.post("/v1/predictions", json=record).json()["outcome"] == "approve"
    put = http.put("/v1/lists/blocked_ips", json={"elements": ["198.51.100.77"], "mode": "APPEND"})
    assert put.status_code == 200
    again = _record(51, ip_address="198.51.100.77")
    assert http.post("/v1/predictions", json=again).json()["outcome"] == "review"


def test_openapi_document(http: httpx.Client) -> None:
    doc = http.get("/openapi.json").json()
    assert "Transaction" in doc["components"]["schemas"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(doc["components"]["securitySchemes"])
    paths = set(doc["paths"])
    assert {
        "/v1/predictions",
        "/v1/predictions/batch",
        "/v1/events/{event_type}/{event_id}",
        "/v1/events/{event_type}/{event_id}/label",
        "/v1/detectors/{detector_id}/versions",
        "/v1/detectors/{detector_id}/versions/{version_id}/activate",
        "/v1/lists/{name}",
        "/v1/health",
    } <= paths
    body = doc["paths"]["/v1/predictions"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/Transaction")
