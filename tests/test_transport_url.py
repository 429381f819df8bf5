"""Transport URLs: parsing, environment, and never showing secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fraudstream.errors import InvalidInput
from fraudstream.stream.transport import (
    DEFAULT_TRANSPORT_URL,
    TransportInputError,
    open_transport,
    parse_transport_url,
    redacted,
    transport_url_from_env,
)
from fraudstream.stream.transport.embedded import EmbeddedTransport
from fraudstream.stream.transport.kafka import KafkaTransport

SECRET = "s3cr3t-P@ss"
SASL_URL = (
    "kafka://b1.example.com:9096,b2.example.com:9096?security.protocol=SASL_SSL"
    "&sasl.mechanism=SCRAM-SHA-512&sasl.username=fraud&sasl.password=s3cr3t-P%40ss"
    "&ssl.ca.location=/etc/ca.pem&consumer.session.timeout.ms=6000"
)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("embedded:///abs/path/log.db", "/abs/path/log.db"),
        ("embedded:/abs/log.db", "/abs/log.db"),
        ("embedded:relative/path.db", "relative/path.db"),
        ("embedded://localhost/abs/x.db", "/abs/x.db"),
        ("embedded:", ".fraudstream/log.db"),
        ("EMBEDDED:with%20space.db", "with space.db"),
    ],
)
def test_embedded_urls(url: str, path: str) -> None:
    parsed = parse_transport_url(url)
    assert parsed.scheme == "embedded"
    assert parsed.path == path


def test_kafka_url_options_become_librdkafka_config() -> None:
    parsed = parse_transport_url(SASL_URL)
    assert parsed.scheme == "kafka"
    assert parsed.bootstrap == "b1.example.com:9096,b2.example.com:9096"
    assert parsed.options["sasl.password"] == SECRET
    assert parsed.options["security.protocol"] == "SASL_SSL"
    transport = KafkaTransport(parsed.bootstrap or "", dict(parsed.options))
    try:
        consumer_conf = transport.client_config("consumer")
        producer_conf = transport.client_config("producer")
        assert consumer_conf["sasl.password"] == SECRET
        assert consumer_conf["session.timeout.ms"] == "6000"
        assert "session.timeout.ms" not in producer_conf
        assert producer_conf["bootstrap.servers"] == parsed.bootstrap
    finally:
        transport.close()


def test_userinfo_is_sasl_credentials() -> None:
    parsed = parse_transport_url("kafka://alice:pa%3Ass@localhost:9092?sasl.mechanism=PLAIN")
    assert parsed.options["sasl.username"] == "alice"
    assert parsed.options["sasl.password"] == "pa:ss"
    assert SECRET not in repr(parsed)
    assert "pa:ss" not in repr(parsed)
    assert "pa%3Ass" not in str(parsed)


def test_redaction_hides_every_secret(caplog: pytest.LogCaptureFixture) -> None:
    shown = redacted(SASL_URL)
    assert SECRET not in shown
    assert "s3cr3t" not in shown
    assert "sasl.password=***" in shown
    assert "sasl.username=fraud" in shown
    assert "b1.example.com:9096,b2.example.com:9096" in shown
    assert "s3cr3t" not in repr(parse_transport_url(SASL_URL))
    parsed = parse_transport_url(SASL_URL)
    transport = KafkaTransport(parsed.bootstrap or "", dict(parsed.options))
    try:
        assert "s3cr3t" not in repr(transport)
        assert "sasl.password=***" in transport.redacted()
    finally:
        transport.close()
    for key in ("ssl.key.password", "sasl.oauthbearer.client.secret", "ssl.key.pem"):
        assert f"{key}=***" in redacted(f"kafka://h:1?{key}=topsecret")
    # Unparsable URLs are hidden whole; errors never echo the URL.
    assert "s3cr3t" not in redacted("kafka://user:s3cr3t@")
    with caplog.at_level(logging.DEBUG), pytest.raises(TransportInputError) as info:
        parse_transport_url("kafka://user:s3cr3t@host-without-port")
    assert "s3cr3t" not in str(info.value)
    assert "s3cr3t" not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "",
        "redis://localhost:6379",
        "kafka:host:9092",
        "kafka://",
        "kafka://host",
        "kafka://host:99999",
        "kafka://host:9092/path",
        "kafka://h:1?a=1&a=2",
        "kafka://h:1?bootstrap.servers=x:1",
        "embedded://otherhost/x.db",
        "embedded:x.db?nope=1",
        "embedded:x.db?session_timeout=soon",
        "kafka://h:1#frag",
    ],
)
def test_bad_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(TransportInputError) as info:
        parse_transport_url(url)
    assert isinstance(info.value, InvalidInput)


def test_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUDSTREAM_BROKER", raising=False)
    assert transport_url_from_env() == DEFAULT_TRANSPORT_URL
    assert transport_url_from_env("embedded:other.db") == "embedded:other.db"
    monkeypatch.setenv("FRAUDSTREAM_BROKER", "  ")
    assert transport_url_from_env("embedded:other.db") == "embedded:other.db"
    monkeypatch.setenv("FRAUDSTREAM_BROKER", "kafka://k:9092")
    assert transport_url_from_env("embedded:other.db") == "kafka://k:9092"


def test_open_transport(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_transport(f"embedded://{tmp_path}/a.db?session_timeout=2&batch_size=7") as t:
        assert isinstance(t, EmbeddedTransport)
        assert t.path == tmp_path / "a.db"
        assert t.session_timeout == 2.0
        assert t.batch_size == 7
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FRAUDSTREAM_BROKER", "embedded:rel/b.db")
    with open_transport() as t:
        assert isinstance(t, EmbeddedTransport)
        assert t.path == tmp_path / "rel" / "b.db"
    with open_transport("kafka://127.0.0.1:1?client.id=x") as k:
        assert isinstance(k, KafkaTransport)
        assert k.bootstrap == "127.0.0.1:1"


def test_kafka_config_errors_do_not_echo_secrets() -> None:
    transport = KafkaTransport(
        "127.0.0.1:1", {"sasl.password": SECRET, "security.protocol": f"bogus{SECRET}"}
    )
    try:
        with pytest.raises(TransportInputError) as info:
            transport.producer()
        assert "security.protocol" in str(info.value)
        assert SECRET not in str(info.value)
        assert "s3cr3t" not in repr(info.value)
    finally:
        transport.close()
