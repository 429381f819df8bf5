"""Fuzz every supported AFD operation through a real boto3 client with bodies generated from
botocore's own input shapes: whatever a client can send, the server answers 2xx or 4xx."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore import xform_name
from botocore.model import Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudstream.api.operations import HANDLERS
from fraudstream.api.protocol import service_model
from test_api_support import (
    TRANSACTION_VARIABLE_NAMES,
    RunningServer,
    define_transaction_type,
    running_server,
)

#: Names that exist on the server, so generated requests reach deep into the handlers.
POOL = ["transaction", "customer", "fraud", "legit", "approve", "block", "det", "rule_a"]
POOL += ["model_a", "blocked", "1", "1.0", "ev-1", *TRANSACTION_VARIABLE_NAMES[:4]]
SAFE_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " _-.:@/", max_size=12)


def _string(shape: Shape) -> st.SearchStrategy[str]:
    meta = shape.metadata
    if shape.enum:
        return st.sampled_from(shape.enum)
    low, high = meta.get("min", 0), meta.get("max", 64)
    pattern = meta.get("pattern")
    base: st.SearchStrategy[str] = SAFE_TEXT
    if pattern and pattern != ".*":
        try:
            re.compile(pattern)
            base = st.from_regex(pattern, fullmatch=True)
        except re.error:  # Java classes (\p{L}) are fine as plain letters
            base = st.text(alphabet=string.ascii_letters, max_size=12)
    pooled = st.sampled_from([p for p in POOL if low <= len(p) <= high] or ["x" * low])
    return st.one_of(pooled, base).filter(lambda s: low <= len(s) <= max(high, low))


def strategy(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        required = {n: strategy(members[n], depth + 1) for n in shape.required_members}
        optional = {
            n: strategy(m, depth + 1) for n, m in members.items() if n not in required and depth < 3
        }
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        low = shape.metadata.get("min", 0)
        return st.lists(strategy(shape.member, depth + 1), min_size=low, max_size=max(low, 3))
    if kind == "map":
        return st.dictionaries(
            _string(shape.key), strategy(shape.value, depth + 1), min_size=1, max_size=3
        )
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        meta = shape.metadata
        return st.integers(meta.get("min", -5), meta.get("max", 10_000))
    if kind in ("float", "double"):
        return st.floats(-1e6, 1e6, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(max_size=16)
    return st.none()


OPERATIONS = sorted(HANDLERS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("afd-fuzz")) as running:
        client = running.client()
        define_transaction_type(client)
        client.put_detector(detectorId="det", eventTypeName="transaction")
        client.create_list(name="blocked", elements=["1.2.3.4"])
        rule = client.create_rule(
            ruleId="rule_a",
            detectorId="det",
            expression="$transaction_amt > 10 or $ip_address in @blocked",
            language="DETECTORPL",
            outcomes=["block"],
        )["rule"]
        client.create_detector_version(detectorId="det", rules=[rule])
        client.create_model(
            modelId="model_a", modelType="TRANSACTION_FRAUD_INSIGHTS", eventTypeName="transaction"
        )
        yield running


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Any:
    return server.client()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_request_breaks_the_server(client: Any, operation: str) -> None:
    shape = service_model().operation_model(operation).input_shape
    method = getattr(client, xform_name(operation))

    @settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=strategy(shape))
    def call(body: dict[str, Any]) -> None:
        answer: dict[str, Any] = {"ResponseMetadata": {"HTTPStatusCode": 200}}
        try:
            method(**body)
        except botocore.exceptions.ParamValidationError:
            return  # the client refused to send it: nothing reached the server
        except botocore.exceptions.ClientError as exc:
            answer = exc.response
        status = answer["ResponseMetadata"]["HTTPStatusCode"]
        assert status < 500, (operation, body, answer.get("Error"))

    call()
