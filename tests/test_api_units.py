"""Unit tests of the API's parts that need no server: settings, SigV4, the protocol model."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from fraudstream.api import auth
from fraudstream.api.auth import ApiKeyVerifier, SigV4Verifier, bearer_token
from fraudstream.api.errors import ApiError, from_exception
from fraudstream.api.operations import HANDLERS, changes_registry
from fraudstream.api.operations.common import decode_token, encode_token, paginate
from fraudstream.api.protocol import Operations, operation_name, service_model, validate
from fraudstream.api.settings import Settings, SettingsError, parse_access_keys
from fraudstream.errors import Conflict, InvalidInput, NotFound

KEY_ID, SECRET = "AKIAUNITTEST0000", "unit-test-secret-0123456789"


@pytest.fixture(scope="module")
def operations() -> Operations:
    return Operations()


# -- settings -----------------------------------------------------------------------------------


def test_no_keys_refuses_to_start() -> None:
    with pytest.raises(SettingsError, match="no API keys configured"):
        Settings.load(env={})


def test_keys_from_env_and_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"access_keys": {"AKIAFILE0001": "file-secret-123"}}))
    settings = Settings.load(
        env={
            "FRAUDSTREAM_API_KEYS": f"{KEY_ID}:{SECRET}, AKIAOTHER0001:other-secret-1",
            "FRAUDSTREAM_REST_KEYS": "rest-key-0123456789abcdef",
            "FRAUDSTREAM_API_KEYS_FILE": str(keys),
        }
    )
    assert settings.access_keys == {
        KEY_ID: SECRET,
        "AKIAOTHER0001": "other-secret-1",
        "AKIAFILE0001": "file-secret-123",
    }
    assert settings.api_keys == {"rest-key-0123456789abcdef"}
    shown = repr(settings)
    assert SECRET not in shown
    assert "rest-key" not in shown
    assert KEY_ID in shown


def test_demo_mode_generates_keys() -> None:
    settings = Settings.load(env={}, demo=True)
    ((key_id, secret),) = settings.access_keys.items()
    assert key_id.startswith("AKIA")
    assert len(key_id) == 20
    assert len(secret) == 40
    assert len(settings.api_keys) == 1


@pytest.mark.parametrize(
    "text", ["AKIDONLY", ":secret", "AKID:", "AKIATEST0001:short", "bad id!:long-enough-secret"]
)
def test_bad_key_configuration_is_refused_without_echoing_secrets(text: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(env={"FRAUDSTREAM_API_KEYS": text})
    assert "long-enough-secret" not in str(info.value)
    assert "short" not in str(info.value) or "shorter" in str(info.value)


def test_parse_access_keys_ignores_blanks() -> None:
    assert parse_access_keys(" A1B2:s3cretvalue , ,") == [("A1B2", "s3cretvalue")]


def test_unreadable_keys_file(tmp_path: Path) -> None:
    bad = tmp_path / "keys.json"
    bad.write_text("{not json")
    with pytest.raises(SettingsError, match="not valid JSON"):
        Settings.load(env={}, keys_file=bad)
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.load(env={}, keys_file=tmp_path / "missing.json")


# -- SigV4 --------------------------------------------------------------------------------------


def _signed(
    body: bytes = b"{}", *, when: datetime | None = None, secret: str = SECRET, key: str = KEY_ID
) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8080/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSHawksNestServiceFacade.GetDetectors",
        },
    )
    signer = SigV4Auth(Credentials(key, secret), "frauddetector", "us-east-1")
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    request.context["timestamp"] = stamp
    request.headers["X-Amz-Date"] = stamp
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signed = signer.signed_headers(signer.headers_to_sign(request))
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:8080"
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key}/{stamp[:8]}/us-east-1/frauddetector/aws4_request, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def _verify(headers: dict[str, str], body: bytes = b"{}") -> Any:
    verifier = SigV4Verifier({KEY_ID: SECRET}, service="frauddetector")
    return verifier.verify("POST", "/", "", headers, body)


def test_sigv4_accepts_what_botocore_signs() -> None:
    caller = _verify(_signed())
    assert caller.access_key_id == KEY_ID
    assert caller.region == "us-east-1"


@pytest.mark.parametrize(
    ("make_headers", "body", "code", "text"),
    [
        (lambda: _signed(), b'{"x": 1}', "AccessDeniedException", "does not match"),
        (
            lambda: _signed(secret="wrong-secret-0123456789"),
            b"{}",
            "AccessDeniedException",
            "match",
        ),
        (
            lambda: _signed(key="AKIAUNKNOWN00000"),
            b"{}",
            "UnrecognizedClientException",
            "invalid",
        ),
        # Signed when the test runs, not when it is collected: a slow suite must not age them.
        (
            lambda: _signed(when=datetime.now(UTC) - timedelta(minutes=16)),
            b"{}",
            "AccessDeniedException",
            "expired",
        ),
        (
            lambda: _signed(when=datetime.now(UTC) + timedelta(minutes=16)),
            b"{}",
            "AccessDeniedException",
            "expired",
        ),
        (lambda: {"host": "x"}, b"{}", "AccessDeniedException", "missing Authorization"),
        (lambda: {"authorization": "Basic abc"}, b"{}", "AccessDeniedException", "malformed"),
    ],
)
def test_sigv4_rejects(
    make_headers: Callable[[], dict[str, str]], body: bytes, code: str, text: str
) -> None:
    with pytest.raises(ApiError) as info:
        _verify(make_headers(), body)
    assert info.value.code == code
    assert info.value.status == 403
    assert text in info.value.message
    assert SECRET not in info.value.message


def test_sigv4_within_skew_is_accepted() -> None:
    _verify(_signed(when=datetime.now(UTC) - timedelta(minutes=14)))


def test_sigv4_rejects_tampered_signed_header() -> None:
    headers = _signed()
    headers["x-amz-target"] = "AWSHawksNestServiceFacade.DeleteDetector"
    with pytest.raises(ApiError, match="does not match"):
        _verify(headers)


def test_api_keys_and_bearer() -> None:
    verifier = ApiKeyVerifier(frozenset({"k" * 20, "z" * 20}))
    assert verifier.verify("z" * 20)
    assert not verifier.verify("k" * 19)
    assert not verifier.verify(None)
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("Basic abc") is None


# -- protocol -----------------------------------------------------------------------------------


def _problems(operations: Operations, name: str, body: Any) -> list[tuple[str, str]]:
    with pytest.raises(ApiError) as info:
        validate(operations[name], body)
    assert info.value.code == "ValidationException"
    return info.value.problems


def test_validation_names_every_bad_field(operations: Operations) -> None:
    problems = _problems(
        operations,
        "CreateDetectorVersion",
        {
            "detectorId": "Bad Id!",
            "rules": [{"detectorId": "d", "ruleId": "r"}],
            "ruleExecutionMode": "SOMETIMES",
            "description": "x" * 200,
        },
    )
    where = dict(problems)
    assert "regular expression" in where["detectorId"]
    assert where["rules[0].ruleVersion"] == "Member must not be null"
    assert "enum" in where["ruleExecutionMode"]
    assert "less than or equal to 128" in where["description"]


def test_validation_types_and_ranges(operations: Operations) -> None:
    where = dict(
        _problems(
            operations,
            "GetEventPrediction",
            {
                "detectorId": 5,
                "eventId": "e",
                "eventTypeName": "t",
                "entities": "nope",
                "eventTimestamp": "2024",
                "eventVariables": {},
            },
        )
    )
    assert where["detectorId"] == "Member must be a string"
    assert where["entities"] == "Member must be a list"
    assert "greater than or equal to 10" in where["eventTimestamp"]
    assert "number of entries greater than or equal to 1" in where["eventVariables"]
    where = dict(_problems(operations, "GetVariables", {"maxResults": 5000}))
    assert "less than or equal to 100" in where["maxResults"]
    where = dict(_problems(operations, "GetVariables", {"maxResults": True}))
    assert where["maxResults"] == "Member must be an integer"


def test_validation_of_map_values_and_java_patterns(operations: Operations) -> None:
    where = dict(
        _problems(
            operations,
            "PutLabel",
            {"name": "ok", "tags": [{"key": "bad#key", "value": "v"}]},
        )
    )
    assert "regular expression" in where["tags[0].key"]
    validate(operations["PutLabel"], {"name": "ok", "tags": [{"key": "héllo wörld", "value": ""}]})


def test_relaxed_data_location_pattern(operations: Operations) -> None:
    body = {
        "modelId": "m",
        "modelType": "TRANSACTION_FRAUD_INSIGHTS",
        "trainingDataSource": "EXTERNAL_EVENTS",
        "trainingDataSchema": {"modelVariables": ["a"]},
        "externalEventsDetail": {"dataLocation": "/tmp/train.csv", "dataAccessRoleArn": "nope"},
    }
    where = dict(_problems(operations, "CreateModelVersion", body))
    assert list(where) == ["externalEventsDetail.dataAccessRoleArn"]


def test_body_must_be_an_object(operations: Operations) -> None:
    assert _problems(operations, "GetDetectors", [1, 2]) == [
        ("$", "Member must be a structure (JSON object)")
    ]


def test_projection_keeps_only_afd_members(operations: Operations) -> None:
    out = operations["DescribeDetector"].project(
        {
            "detectorId": "d",
            "secret": "internal",
            "detectorVersionSummaries": [
                {"detectorVersionId": "1", "status": "ACTIVE", "description": "", "x": 1}
            ],
            "nextToken": None,
        }
    )
    assert out == {
        "detectorId": "d",
        "detectorVersionSummaries": [{"detectorVersionId": "1", "status": "ACTIVE"}],
    }


def test_target_header() -> None:
    assert operation_name("AWSHawksNestServiceFacade.GetRules") == "GetRules"
    for bad in (None, "", "Other.GetRules"):
        with pytest.raises(ApiError) as info:
            operation_name(bad)
        assert info.value.code == "UnknownOperationException"


def test_every_handler_is_an_operation_of_the_model() -> None:
    names = set(service_model().operation_names)
    assert set(HANDLERS) <= names
    assert len(HANDLERS) >= 55
    assert not changes_registry("GetEventPrediction")
    assert not changes_registry("SendEvent")
    assert changes_registry("UpdateDetectorVersionStatus")


def test_error_mapping_hides_unexpected_errors() -> None:
    assert from_exception(InvalidInput("bad"), "r").code == "ValidationException"
    assert from_exception(NotFound("gone"), "r").code == "ResourceNotFoundException"
    assert from_exception(Conflict("busy"), "r").code == "ConflictException"
    internal = from_exception(RuntimeError("/etc/secret path"), "req-1")
    assert internal.code == "InternalServerException"
    assert internal.status == 500
    assert "secret" not in internal.message
    assert "req-1" in internal.message


def test_pagination_tokens_round_trip() -> None:
    items = [{"name": f"n{i:02d}"} for i in range(7)]
    first = paginate(items, {"maxResults": 3}, "xs", key=lambda d: d["name"], page_size=10)
    assert [d["name"] for d in first["xs"]] == ["n00", "n01", "n02"]
    second = paginate(
        items,
        {"maxResults": 3, "nextToken": first["nextToken"]},
        "xs",
        key=lambda d: d["name"],
        page_size=10,
    )
    assert [d["name"] for d in second["xs"]] == ["n03", "n04", "n05"]
    assert decode_token(encode_token("n05")) == "n05"
    with pytest.raises(ApiError):
        decode_token("%%%")


_HEADER_NAMES = st.sampled_from(
    ["content-type", "x-amz-target", "x-amz-user-agent", "x-amz-content-sha256", "x-custom"]
)
_HEADER_VALUES = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from(" \t"),
    max_size=40,
)


@given(
    extra=st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=5),
    body=st.binary(max_size=300),
    method=st.sampled_from(["POST", "post", "GET"]),
)
def test_the_direct_canonical_request_is_botocores(
    extra: dict[str, str], body: bytes, method: str
) -> None:
    headers = {"host": "127.0.0.1:8080", "x-amz-date": "20261127T101500Z", **extra}
    signed = sorted(headers)
    digest = hashlib.sha256(body).hexdigest()
    if "x-amz-content-sha256" in headers:
        headers["x-amz-content-sha256"] = digest  # the verifier refuses any other value
    direct = auth._canonical_request(method, "/", "", headers, signed, body, digest)
    assert direct == auth._botocore_canonical_request(method, "/", "", headers, signed, body)


def test_other_paths_and_queries_use_botocores_canonical_request() -> None:
    headers = {"host": "h", "x-amz-date": "20261127T101500Z"}
    body = b"{}"
    digest = hashlib.sha256(body).hexdigest()
    for path, query in (("/a b/../c", ""), ("/", "b=2&a=1")):
        assert auth._canonical_request(
            "POST", path, query, headers, sorted(headers), body, digest
        ) == auth._botocore_canonical_request("POST", path, query, headers, sorted(headers), body)


def test_sigv4_checks_a_claimed_body_hash_against_the_body() -> None:
    """botocore's signer trusts X-Amz-Content-SHA256; a MITM could swap the body under it."""
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8080/",
        data=b'{"a": 1}',
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Content-SHA256": hashlib.sha256(b'{"a": 1}').hexdigest(),
        },
    )
    SigV4Auth(Credentials(KEY_ID, SECRET), "frauddetector", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:8080"
    assert _verify(headers, b'{"a": 1}').access_key_id == KEY_ID
    with pytest.raises(ApiError, match="X-Amz-Content-SHA256"):
        _verify(headers, b'{"a": 2}')
