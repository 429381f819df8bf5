"""Server-level behaviour: refusing to start without keys, the CLI, throttling, internal
errors that leak nothing, REST-only keys, and buffered events surviving a shutdown."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import botocore.exceptions
import click
import httpx
import pytest
from click.testing import CliRunner

from fraudstream.api import Settings, SettingsError, create_app
from fraudstream.api import operations as api_operations
from fraudstream.api.cli import api
from fraudstream.detector import Engine
from test_api_support import (
    ACCESS_KEY,
    API_KEY,
    SECRET_KEY,
    define_transaction_type,
    running_server,
)


def test_create_app_refuses_to_serve_without_keys(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path)
    try:
        with pytest.raises(SettingsError, match="no API keys configured"):
            create_app(engine, Settings())
    finally:
        engine.close()


def _serve(monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str]) -> Any:
    started: dict[str, Any] = {}

    def fake_run(app: Any, **options: Any) -> None:
        started.update(options, app=app)

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(sys, "setswitchinterval", lambda seconds: None)  # process-wide
    for name in ("FRAUDSTREAM_API_KEYS", "FRAUDSTREAM_REST_KEYS", "FRAUDSTREAM_API_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    root = click.Group(commands={"api": api})
    result = CliRunner().invoke(root, ["api", "serve", *args], env=env)
    return result, started


def test_cli_refuses_without_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result, started = _serve(monkeypatch, ["--home", str(tmp_path)], {})
    assert result.exit_code == 2
    assert "no API keys configured" in result.output
    assert not started


def test_cli_serves_with_env_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {"FRAUDSTREAM_API_KEYS": f"{ACCESS_KEY}:{SECRET_KEY}"}
    result, started = _serve(
        monkeypatch, ["--home", str(tmp_path), "--port", "9123", "--host", "127.0.0.2"], env
    )
    assert result.exit_code == 0, result.output
    assert (started["host"], started["port"]) == ("127.0.0.2", 9123)
    assert SECRET_KEY not in result.output
    assert (tmp_path / "data").is_dir()  # the default data folder


def test_cli_demo_mode_prints_generated_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result, started = _serve(monkeypatch, ["--home", str(tmp_path), "--demo"], {})
    assert result.exit_code == 0, result.output
    assert "aws_access_key_id=AKIA" in result.output
    assert "aws_secret_access_key=" in result.output
    assert "Bearer fs_" in result.output
    assert started["app"] is not None


def test_throttling_when_too_many_requests_are_in_flight(tmp_path: Path) -> None:
    settings = Settings(access_keys={ACCESS_KEY: SECRET_KEY}, max_in_flight=0)
    with running_server(tmp_path, settings) as server:
        client = server.client()
        with pytest.raises(client.exceptions.ThrottlingException):
            client.get_detectors()


def test_unexpected_errors_are_generic_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(service: Any, body: Any) -> Any:
        raise RuntimeError("/secret/path/to/registry.db is corrupt")

    monkeypatch.setitem(api_operations.HANDLERS, "GetDetectors", broken)
    with running_server(tmp_path) as server:
        client = server.client()
        with pytest.raises(client.exceptions.InternalServerException) as info:
            client.get_detectors()
        message = info.value.response["Error"]["Message"]
        assert "secret" not in message
        assert "request id" in message
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        # The server keeps serving.
        assert client.get_labels()["labels"] == []
    assert any("secret/path" in str(r.exc_info) for r in caplog.records if r.exc_info)


def test_rest_only_keys_reject_sigv4(tmp_path: Path) -> None:
    settings = Settings(api_keys=frozenset({API_KEY}))
    with running_server(tmp_path, settings) as server:
        with pytest.raises(botocore.exceptions.ClientError) as info:
            server.client().get_detectors()
        assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
        ok = httpx.get(f"{server.url}/v1/lists/none", headers={"X-API-Key": API_KEY})
        assert ok.status_code == 404


def test_other_paths_and_methods(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        assert httpx.get(f"{server.url}/").status_code == 404
        missing = httpx.get(f"{server.url}/v1/nothing", headers={"X-API-Key": API_KEY})
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        wrong = httpx.delete(f"{server.url}/v1/lists/x", headers={"X-API-Key": API_KEY})
        assert wrong.status_code == 405


def test_buffered_events_survive_shutdown(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        client = server.client()
        define_transaction_type(client)
        client.send_event(
            eventId="kept-1",
            eventTypeName="transaction",
            eventTimestamp="2024-03-01T10:00:00Z",
            eventVariables={"transaction_amt": "12.5", "email_address": "a@example.com"},
            entities=[{"entityType": "customer", "entityId": "c-1"}],
            assignedLabel="legit",
            labelTimestamp="2024-03-02T10:00:00Z",
        )
    engine = Engine.open(tmp_path)
    try:
        stored = engine.events.get_event("transaction", "kept-1")
        assert stored.label == "legit"
        assert stored.event.variables["transaction_amt"] == 12.5
    finally:
        engine.close()
