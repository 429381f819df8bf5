"""Schemathesis fuzzes the REST API from its own OpenAPI document: no input may cause a 5xx,
and every answer must be one the document promises (status, content type, schema)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from test_api_support import (
    API_KEY,
    RunningServer,
    define_transaction_type,
    running_server,
)

DETECTOR = "fraudstream_detector"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("fuzz")) as running:
        afd = running.client()
        define_transaction_type(afd)
        afd.put_detector(detectorId=DETECTOR, eventTypeName="transaction")
        afd.create_list(name="blocked_ips", elements=["203.0.113.9"])
        rule = afd.create_rule(
            ruleId="big",
            detectorId=DETECTOR,
            expression="$transaction_amt > 1000 or $ip_address in @blocked_ips",
            language="DETECTORPL",
            outcomes=["block"],
        )["rule"]
        afd.create_detector_version(detectorId=DETECTOR, rules=[rule])
        afd.create_detector_version(detectorId=DETECTOR, rules=[rule])
        afd.update_detector_version_status(
            detectorId=DETECTOR, detectorVersionId="1", status="ACTIVE"
        )
        yield running


@pytest.fixture
def rest_schema(server: RunningServer) -> Any:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("rest_schema")


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_rest_api_survives_fuzzing(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {API_KEY}"}, checks=CHECKS)
