"""Alerting parts on their own: masking, signatures, payload templates, the ledger's protocol."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import orjson
import pytest

from fraudstream.alerts import (
    Alert,
    AlertConfigError,
    Ledger,
    MaskingFilter,
    PayloadTemplate,
    SignatureError,
    SmtpSettings,
    WebhookChannel,
    delivery_id,
    mask_card,
    mask_email,
    mask_ip,
    mask_name,
    mask_phone,
    mask_text,
    sign,
    signature_header,
    verify_signature,
)
from fraudstream.alerts.dispatcher import DispatchSettings
from fraudstream.alerts.message import digest_text, event_link, render_text
from fraudstream.alerts.webhook import redact_webhook_url
from fraudstream.sinks.samples import sample_decisions


@pytest.fixture(scope="module")
def records() -> list[dict[str, object]]:
    samples = sample_decisions(200, seed=2, fraud_rate=0.3)
    return [s.record for s in samples if s.record["fd"]["outcome"] == "block"]


def test_masking_keeps_only_what_identifies_a_case() -> None:
    assert mask_email("John.Doe@Example.com") == "J***@Example.com"
    assert mask_email("not-an-email") == "***"
    assert mask_phone("445.977.8048") == "***.***.**48"
    assert mask_phone("(224)843-6957x711") == "(***)***-**57"
    assert mask_phone("+1-294-868-0805") == "+*-***-***-**05"
    assert mask_phone("12") == "***"
    assert mask_name("Todd Edwards") == "T. E."
    assert mask_name("mary-jane o'neil") == "M. J. O."
    assert mask_name("") == "***"
    assert mask_ip("204.125.140.125") == "204.125.140.***"
    assert mask_ip("2001:db8:85a3::8a2e:370:7334") == "2001:db8:85a3:0:***"
    assert mask_ip("nonsense") == "***"
    assert mask_card(542418) == "542418"
    assert mask_card("45717360") == "45717360"
    assert mask_card("4111 1111 1111 1111") == "411111***"
    text = "a.b@x.org from 10.0.0.12 paid with 4111111111111111 at offset 1234567"
    assert mask_text(text) == "a***@x.org from 10.0.0.*** paid with 411111*** at offset 1234567"
    local = "metrics on http://127.0.0.1:9108, API on 0.0.0.0:8080, client 8.8.4.4"
    assert (
        mask_text(local)
        == "metrics on http://127.0.0.1:9108, API on 0.0.0.0:8080, client 8.8.4.***"
    )


def test_the_log_filter_masks_messages_and_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("fraudstream.test.masking")
    handler_filter = MaskingFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("customer %s at %s", "jane.roe@mail.test", "192.168.7.21")
            logger.info("card 5500 0000 0000 0004 declined")
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert "jane.roe" not in caplog.text
    assert "192.168.7.21" not in caplog.text
    assert "5500 0000 0000 0004" not in caplog.text
    assert "j***@mail.test" in caplog.text
    assert "550000***" in caplog.text


def test_alerts_carry_the_decision_and_only_masked_contact_data(
    records: list[dict[str, object]],
) -> None:
    record = records[0]
    alert = Alert.from_record(record, "https://dash.test/", "t[0]@3")
    fd = record["fd"]
    assert isinstance(fd, dict)
    assert alert.outcome == "block"
    assert alert.score == fd["scores"]["fraudstream_model_insightscore"]
    assert alert.rules == ("block_high_risk",)
    assert [r.feature for r in alert.reasons] == [r["feature"] for r in fd["reasons"]]
    assert alert.link == f"https://dash.test/events/{record['event_id']}"
    assert alert.detector == "fraudstream_detector:1"
    assert Alert.from_dict(orjson.loads(orjson.dumps(alert.to_dict()))) == alert
    shown = orjson.dumps(alert.to_dict()).decode() + render_text(alert)
    for field in ("email_address", "phone", "customer_name", "ip_address", "billing_street"):
        assert str(record[field]) not in shown
    assert event_link("https://d.test", "a/b c") == "https://d.test/events/a%2Fb%20c"
    assert event_link(None, "x") is None
    digest = digest_text([Alert.from_record(r, None) for r in records[:5]])
    assert digest.count("\n- ") == 5


def test_signatures_verify_only_the_signed_body_within_the_tolerance() -> None:
    body = b'{"type":"fraudstream.alert"}'
    header = signature_header("s3cret", body, timestamp=1_700_000_000)
    assert header == f"t=1700000000,v1={sign('s3cret', 1_700_000_000, body)}"
    assert verify_signature("s3cret", header, body, now=1_700_000_100) == 1_700_000_000
    rotated = header + f",v1={sign('old', 1_700_000_000, body)}"
    assert verify_signature("old", rotated, body, now=1_700_000_000) == 1_700_000_000
    for bad_header, bad_body, now in (
        (header, body + b" ", 1_700_000_000),  # tampered body
        (header, body, 1_700_000_301),  # too old: a replay
        (None, body, 1_700_000_000),
        ("v1=abc", body, 1_700_000_000),
        ("t=x,v1=abc", body, 1_700_000_000),
        (header.replace("t=1700000000", "t=1700000001"), body, 1_700_000_000),
    ):
        with pytest.raises(SignatureError):
            verify_signature("s3cret", bad_header, bad_body, now=now)


def test_payload_templates(records: list[dict[str, object]]) -> None:
    alert = Alert.from_record(records[0], "https://dash.test")
    body = orjson.loads(PayloadTemplate("json").render([alert], "d1"))
    assert body == {"type": "fraudstream.alert", "delivery_id": "d1", "alert": alert.to_dict()}
    two = [alert, Alert.from_record(records[1], None)]
    digest = orjson.loads(PayloadTemplate().render(two, "d2"))
    assert (digest["type"], digest["count"]) == ("fraudstream.digest", 2)
    slack = orjson.loads(PayloadTemplate("slack").render([alert], "d3"))
    assert set(slack) == {"text"}
    assert alert.event_id in slack["text"]
    custom = PayloadTemplate('{"content": "$subject", "meta": {"id": "$event_id", "n": 1}}')
    rendered = orjson.loads(custom.render([alert], "d4"))
    assert rendered["meta"] == {"id": alert.event_id, "n": 1}
    assert rendered["content"].startswith("[fraudstream] BLOCK")
    with pytest.raises(AlertConfigError):
        PayloadTemplate("{not json")
    assert delivery_id([alert], "email") == f"{alert.event_id}.email"
    assert delivery_id(two, "email").startswith(f"digest-{alert.event_id}-2")


def test_channel_settings_are_validated_and_never_show_secrets() -> None:
    with pytest.raises(AlertConfigError):
        SmtpSettings(host="", sender="a@b.c", recipients=("x@y.z",))
    with pytest.raises(AlertConfigError):
        SmtpSettings(host="h", sender="nope", recipients=("x@y.z",))
    with pytest.raises(AlertConfigError):
        SmtpSettings(host="h", sender="a@b.c", recipients=())
    with pytest.raises(AlertConfigError):
        SmtpSettings(host="h", sender="a@b.c", recipients=("x@y.z",), password="pw")
    settings = SmtpSettings(
        host="h", sender="a@b.c", recipients=("x@y.z",), username="u", password="hunter2",
        security="starttls",
    )  # fmt: skip
    assert "hunter2" not in repr(settings)
    assert settings.effective_port == 587
    hook = WebhookChannel("https://hooks.slack.test/services/T0/B0/SECRETTOKEN", secret="k")
    assert "SECRETTOKEN" not in hook.describe()
    assert redact_webhook_url("https://h.test:8443/x?token=1") == "https://h.test:8443/..."
    hook.close()
    with pytest.raises(AlertConfigError):
        WebhookChannel("ftp://h/x")
    with pytest.raises(AlertConfigError):
        DispatchSettings(digest_rate=0)


def test_the_ledger_queues_once_and_moves_rows_pending_sending_sent(
    tmp_path: Path, records: list[dict[str, object]]
) -> None:
    alerts = [Alert.from_record(r, None) for r in records[:4]]
    ledger = Ledger(tmp_path / "alerts.db")
    assert ledger.enqueue(alerts, ["email", "webhook"]) == 8
    assert ledger.enqueue(alerts, ["email", "webhook"]) == 0  # a replay adds nothing
    assert ledger.due_count("email", lease=60) == 4
    claimed = ledger.claim("email", 2, lease=60)
    assert [a.event_id for a in claimed] == [a.event_id for a in alerts[:2]]
    assert ledger.due_count("email", lease=60) == 2  # claimed rows are not due...
    assert ledger.due_count("email", lease=0.001) >= 2  # ...until their lease expires
    ledger.mark_sent("email", [claimed[0].event_id])
    ledger.mark_retry("email", [claimed[1].event_id], "SMTP 451 refused", delay=60)
    assert ledger.messages_since("email", 0) == 1
    assert ledger.due_count("email", lease=60) == 2  # the retried row waits 60 s
    states = {d.event_id: (d.state, d.attempts, d.last_error) for d in ledger.deliveries()
              if d.channel == "email"}  # fmt: skip
    assert states[claimed[0].event_id] == ("sent", 1, None)
    assert states[claimed[1].event_id] == ("pending", 1, "SMTP 451 refused")
    ledger.enqueue(alerts, ["email"])  # even after sending: never a second row
    assert ledger.outstanding(["email"]) == 3
    assert ledger.enqueue(alerts[:1], []) == 0

    # A row left 'sending' by a dead process on this host is reclaimed at once.
    more = ledger.claim("webhook", 1, lease=3600)
    with ledger._tx() as conn:  # what a process killed mid-send leaves behind
        conn.execute(
            "UPDATE deliveries SET claimed_by = ? WHERE channel = 'webhook' AND event_id = ?",
            (f"{socket.gethostname()}/999999999/dead", more[0].event_id),
        )
    other = Ledger(tmp_path / "alerts.db")
    assert other.recover("webhook") == 1
    assert other.due_count("webhook", lease=3600) == 4
    assert other.expire("webhook", max_age=3600) == 0
    time.sleep(0.01)
    assert other.expire("webhook", max_age=0.001) == 4
    assert other.counts()[("webhook", "failed")] == 4
    other.close()
    ledger.close()
