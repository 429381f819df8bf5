"""Alerts end to end through a real SMTP server (aiosmtpd) and a real HTTP receiver.

Decisions are realistic ``processed_transactions`` records (simulator transactions through the
processor's record builder, :mod:`fraudstream.sinks.samples`) on the embedded log. The alert
consumer runs in-process, or as a real ``fraudstream alerts`` process that the test kills.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from fixtures.http_receiver import HttpReceiver, Request, running_receiver
from fixtures.smtp_server import SmtpServer, running_smtp, self_signed
from fraudstream.alerts import (
    Alert,
    AlertConsumer,
    AlertSettings,
    Channel,
    ChannelError,
    DispatchSettings,
    Ledger,
    SmtpChannel,
    SmtpSettings,
    WebhookChannel,
    verify_signature,
)
from fraudstream.alerts.masking import mask_ip
from fraudstream.sinks.samples import SampleDecision, produce_samples, sample_decisions
from fraudstream.stream.topics import Topics, ensure_topics
from fraudstream.stream.transport import Transport, open_transport

SECRET = "whsec-test-0123456789"
DASHBOARD = "https://fraud.example.test"
FAST = DispatchSettings(lease=5.0, retry_initial=0.05, retry_max=0.3, idle_poll=0.05)
WAIT = 30.0


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture
def topics() -> Topics:
    return Topics.prefixed(f"a{uuid.uuid4().hex[:6]}-")


@pytest.fixture
def log_url(tmp_path: Path) -> str:
    return f"embedded:{tmp_path / 'log.db'}?session_timeout=3"


@pytest.fixture
def transport(log_url: str, topics: Topics) -> Iterator[Transport]:
    with open_transport(log_url) as transport:
        ensure_topics(transport, 2, topics)
        yield transport


def publish(transport: Transport, topics: Topics, samples: list[SampleDecision]) -> None:
    with transport.producer() as producer:
        produce_samples(producer, samples, topics, truth=False)


def decisions(n: int, seed: int) -> tuple[list[SampleDecision], set[str]]:
    samples = sample_decisions(n, seed=seed, fraud_rate=0.3, end=time.time(), days=0.01)
    blocked = {s.event_id for s in samples if s.record["fd"]["outcome"] == "block"}
    assert len(blocked) >= 10
    return samples, blocked


def smtp_channel(smtp: SmtpServer, **options: object) -> SmtpChannel:
    settings = SmtpSettings(
        host=smtp.host,
        port=smtp.port,
        sender="fraud-alerts@bank.test",
        recipients=("analysts@bank.test", "oncall@bank.test"),
        timeout=5.0,
        **options,  # type: ignore[arg-type]
    )
    return SmtpChannel(settings)


def webhook_channel(receiver: HttpReceiver) -> WebhookChannel:
    return WebhookChannel(receiver.url + "/hooks/fraud", secret=SECRET, timeout=5.0)


def mail_events(smtp: SmtpServer) -> list[str]:
    return [m.message["X-Fraudstream-Event-Id"] for m in smtp.messages]


def hook_events(requests: list[Request]) -> list[str]:
    return [orjson.loads(r.body)["alert"]["event_id"] for r in requests]


class Running:
    """An in-process alert consumer running in a thread."""

    def __init__(self, consumer: AlertConsumer) -> None:
        self.consumer = consumer
        self.thread = threading.Thread(target=consumer.run, daemon=True)

    def __enter__(self) -> AlertConsumer:
        self.thread.start()
        return self.consumer

    def __exit__(self, *exc: object) -> None:
        self.consumer.stop()
        self.thread.join(10)
        self.consumer.close()


def consumer_for(
    transport: Transport,
    topics: Topics,
    home: Path,
    channels: list[Channel],
    *,
    group: str = "alerts",
    dispatch: DispatchSettings = FAST,
) -> AlertConsumer:
    return AlertConsumer(
        transport,
        Ledger.in_home(home),
        channels,
        AlertSettings(group_id=group, dashboard_url=DASHBOARD, poll_timeout=0.05),
        dispatch=dispatch,
        topics=topics,
    )


# --------------------------------------------------------------------------- restart + replay


def test_one_email_and_one_webhook_per_block_across_a_kill_and_a_replay(
    tmp_path: Path,
    log_url: str,
    transport: Transport,
    topics: Topics,
    smtp_server: SmtpServer,
    http_receiver: HttpReceiver,
) -> None:
    samples, blocked = decisions(400, seed=11)
    publish(transport, topics, samples)
    # Slow receivers so the kill lands mid-delivery.
    smtp_server.handler.delay = 0.02

    def slow(request: Request) -> tuple[int, bytes]:
        time.sleep(0.02)
        return 200, b"{}"

    http_receiver.responder = slow
    home = tmp_path / "home"
    prefix = topics.transactions.removesuffix("transactions")
    command = [
        sys.executable, "-m", "fraudstream.cli.alert_cmds", "alerts",
        "--broker", log_url, "--home", str(home), "--topic-prefix", prefix,
        "--smtp-host", smtp_server.host, "--smtp-port", str(smtp_server.port),
        "--smtp-from", "fraud-alerts@bank.test", "--smtp-to", "analysts@bank.test",
        "--webhook-url", http_receiver.url + "/hooks/fraud", "--dashboard-url", DASHBOARD,
        "--batch-size", "50", "--retry-initial", "0.05", "--retry-max", "0.3",
        "--lease", "5",
    ]  # fmt: skip
    env = {**os.environ, "FRAUDSTREAM_WEBHOOK_SECRET": SECRET}
    stderr = tmp_path / "alerts.log"
    with stderr.open("wb") as err:
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            smtp_server.wait_for(5, WAIT)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        killed_at = (len(smtp_server.messages), len(http_receiver.accepted()))
        assert killed_at[0] < len(blocked), "the kill should land mid-run"
        second = subprocess.run(
            [*command, "--until-idle", "1.0"], env=env, stdout=subprocess.PIPE, stderr=err,
            timeout=120, check=True,
        )  # fmt: skip
    assert b"alerts:" in second.stdout

    mails, hooks = smtp_server.messages, http_receiver.accepted()
    # Exactly one message per blocked event and channel, by delivery id...
    assert sorted({m.message_id for m in mails}) == sorted(
        f"<{e}.email@fraudstream>" for e in blocked
    )
    assert sorted({h.header("Idempotency-Key") or "" for h in hooks}) == sorted(
        f"{e}.webhook" for e in blocked
    )
    assert set(mail_events(smtp_server)) == blocked
    assert set(hook_events(hooks)) == blocked
    # ...and raw duplicates only from the one message that may have been in flight at the
    # kill (accepted by the server, not yet recorded): at most one per channel.
    assert len(mails) - len(blocked) <= 1
    assert len(hooks) - len(blocked) <= 1
    for hook in hooks:
        verify_signature(SECRET, hook.header("X-Fraudstream-Signature"), hook.body)
    log_text = stderr.read_text()
    assert "Traceback" not in log_text

    # A replay from offset 0 with a new group sends nothing more.
    before = (len(mails), len(hooks))
    channels: list[Channel] = [smtp_channel(smtp_server), webhook_channel(http_receiver)]
    replay = consumer_for(transport, topics, home, channels, group="alerts-replay")
    try:
        assert replay.run(idle_timeout=0.5) == len(samples)
        assert replay.queued == 0
        assert replay.wait_delivered(5)
        time.sleep(0.3)
    finally:
        replay.close()
    assert (len(smtp_server.messages), len(http_receiver.accepted())) == before


# --------------------------------------------------------------------------- a channel down


def test_a_channel_that_is_down_is_retried_while_the_other_delivers(
    tmp_path: Path,
    transport: Transport,
    topics: Topics,
    smtp_server: SmtpServer,
    http_receiver: HttpReceiver,
) -> None:
    channels: list[Channel] = [smtp_channel(smtp_server), webhook_channel(http_receiver)]
    consumer = consumer_for(transport, topics, tmp_path / "home", channels)
    with Running(consumer):
        # 1. The webhook answers 500: e-mails flow, webhooks are retried, then delivered.
        http_receiver.status = 500
        samples, blocked = decisions(200, seed=21)
        publish(transport, topics, samples)
        smtp_server.wait_for(len(blocked), WAIT)
        assert set(mail_events(smtp_server)) == blocked
        assert not http_receiver.accepted()
        http_receiver.wait_for(3, WAIT, accepted=False)
        http_receiver.status = 200
        hooks = http_receiver.wait_for(len(blocked), WAIT)
        assert Counter(hook_events(hooks)) == Counter(dict.fromkeys(blocked, 1))

        # 2. The SMTP server refuses (451): webhooks flow, e-mails are retried, then delivered.
        smtp_server.refuse = True
        more, blocked2 = decisions(200, seed=22)
        publish(transport, topics, more)
        hooks = http_receiver.wait_for(len(blocked) + len(blocked2), WAIT)
        assert Counter(hook_events(hooks)) == Counter(dict.fromkeys(blocked | blocked2, 1))
        deadline = time.monotonic() + WAIT
        while smtp_server.handler.refused < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert smtp_server.handler.refused >= 2
        assert len(smtp_server.messages) == len(blocked)
        smtp_server.refuse = False
        smtp_server.wait_for(len(blocked) + len(blocked2), WAIT)

        # 3. The SMTP server is gone (connection refused), then back on the same port.
        smtp_server.stop()
        third, blocked3 = decisions(150, seed=23)
        publish(transport, topics, third)
        total = len(blocked) + len(blocked2) + len(blocked3)
        http_receiver.wait_for(total, WAIT)
        time.sleep(0.3)
        smtp_server.start()
        smtp_server.wait_for(total, WAIT)
        assert consumer.wait_delivered(WAIT)
    everything = blocked | blocked2 | blocked3
    assert Counter(mail_events(smtp_server)) == Counter(dict.fromkeys(everything, 1))
    assert Counter(hook_events(http_receiver.accepted())) == Counter(dict.fromkeys(everything, 1))
    ledger = Ledger.in_home(tmp_path / "home")
    try:
        assert ledger.counts() == {("email", "sent"): total, ("webhook", "sent"): total}
        # The first alert of each outage failed (and was retried) while the rest waited.
        attempts = {(d.channel, d.event_id): d.attempts for d in ledger.deliveries()}
        assert max(attempts[("webhook", e)] for e in blocked) >= 3
        assert max(attempts[("email", e)] for e in blocked2) >= 2
        assert max(attempts[("email", e)] for e in blocked3) >= 2
    finally:
        ledger.close()


# --------------------------------------------------------------------------- content + masking


def test_messages_carry_the_decision_with_card_and_contact_data_masked(
    tmp_path: Path,
    transport: Transport,
    topics: Topics,
    smtp_server: SmtpServer,
    http_receiver: HttpReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = WebhookChannel(http_receiver.url + "/chat", template="slack", name="slack")
    channels: list[Channel] = [smtp_channel(smtp_server), webhook_channel(http_receiver), chat]
    samples, blocked = decisions(200, seed=31)
    with Running(consumer_for(transport, topics, tmp_path / "home", channels)) as consumer:
        publish(transport, topics, samples)
        smtp_server.wait_for(len(blocked), WAIT)
        assert consumer.wait_delivered(WAIT)
    by_id = {s.event_id: s.record for s in samples}
    hooks = [r for r in http_receiver.accepted() if r.path == "/hooks/fraud"]
    chats = [r for r in http_receiver.accepted() if r.path == "/chat"]
    assert len(hooks) == len(chats) == len(blocked)

    texts: list[str] = []
    for mail in smtp_server.messages:
        event_id = mail.message["X-Fraudstream-Event-Id"]
        record = by_id[event_id]
        fd = record["fd"]
        body = mail.body
        texts.append(mail.raw.decode(errors="replace"))
        assert mail.subject.startswith("[fraudstream] BLOCK:")
        assert record["transaction_currency"] in mail.subject
        assert f"Event:    {event_id}" in body
        assert f"score {fd['scores']['fraudstream_model_insightscore']:g}" in body
        assert f"{record['transaction_amt']:,.2f} {record['transaction_currency']}" in body
        assert record["entity_id"] in body
        assert record["event_time"] in body
        assert "block_high_risk" in body
        for reason in fd["reasons"]:
            assert reason["feature"] in body
        assert f"{DASHBOARD}/events/{event_id}" in body
        local, domain = record["email_address"].split("@")
        assert f"{local[0]}***@{domain}" in body
        assert mask_ip(record["ip_address"]) in body
        assert str(record["card_bin"]) in body
        number = record["phone"].split("x")[0]  # the simulator writes extensions as x123
        assert "**" + "".join(c for c in number if c.isdigit())[-2:] + "\r\n" in body
        initials = " ".join(f"{p[0]}." for p in record["customer_name"].split())
        assert initials in body
        assert mail.rcpt_tos == ("analysts@bank.test", "oncall@bank.test")
    for hook in hooks:
        payload = orjson.loads(hook.body)
        assert payload["type"] == "fraudstream.alert"
        alert = payload["alert"]
        record = by_id[alert["event_id"]]
        assert alert["outcome"] == "block"
        assert alert["amount"] == record["transaction_amt"]
        assert alert["rules"] == ["block_high_risk"]
        assert [r["feature"] for r in alert["reasons"]] == [
            r["feature"] for r in record["fd"]["reasons"]
        ]
        assert alert["link"] == f"{DASHBOARD}/events/{alert['event_id']}"
        texts.append(hook.body.decode())
    for chat_request in chats:
        text = orjson.loads(chat_request.body)["text"]
        assert "BLOCK" in text
        texts.append(text)
    with sqlite3.connect(tmp_path / "home" / "alerts.db") as db:
        texts.extend(row[0] for row in db.execute("SELECT alert FROM deliveries"))
    # Every log line of this process, except the test SMTP server's own (aiosmtpd's
    # "mail.log" echoes what it receives).
    ours = [r for r in caplog.records if not r.name.startswith("mail.")]
    texts.extend(r.getMessage() for r in ours)
    assert any(r.name.startswith("fraudstream.alerts") for r in ours)

    everything = "\n".join(texts)
    for event_id in blocked:
        record = by_id[event_id]
        for secret in (
            record["email_address"],
            record["phone"],
            record["customer_name"],
            record["ip_address"],
            record["billing_street"],
            record["customer_name"].split()[-1],
        ):
            assert secret not in everything, f"unmasked value leaked for {event_id}"
    assert SECRET not in everything
    assert any("sent alert for event" in r.getMessage() for r in ours)


def test_webhook_signatures_verify_and_tampering_is_detected(
    tmp_path: Path, transport: Transport, topics: Topics, http_receiver: HttpReceiver
) -> None:
    from fraudstream.alerts import SignatureError

    samples, blocked = decisions(150, seed=41)
    with Running(
        consumer_for(transport, topics, tmp_path / "home", [webhook_channel(http_receiver)])
    ) as consumer:
        publish(transport, topics, samples)
        http_receiver.wait_for(len(blocked), WAIT)
        assert consumer.wait_delivered(WAIT)
    for request in http_receiver.accepted():
        header = request.header("X-Fraudstream-Signature")
        assert header is not None
        assert header.startswith("t=")
        timestamp = verify_signature(SECRET, header, request.body)
        assert abs(timestamp - request.received_at) < 5
        with pytest.raises(SignatureError):
            verify_signature(SECRET, header, request.body.replace(b"block", b"approve", 1))
        with pytest.raises(SignatureError):
            verify_signature("another-secret", header, request.body)
        assert request.header("Content-Type") == "application/json"


# --------------------------------------------------------------------------- digest


def test_alerts_above_the_rate_go_out_as_one_digest(
    tmp_path: Path, transport: Transport, topics: Topics, smtp_server: SmtpServer
) -> None:
    samples, blocked = decisions(300, seed=51)
    publish(transport, topics, samples)  # all queued at once: a burst
    dispatch = DispatchSettings(
        lease=5.0, retry_initial=0.05, retry_max=0.3, idle_poll=0.05, digest_rate=3
    )
    channels: list[Channel] = [smtp_channel(smtp_server)]
    with Running(
        consumer_for(transport, topics, tmp_path / "home", channels, dispatch=dispatch)
    ) as consumer:
        smtp_server.wait_for(1, WAIT)
        assert consumer.wait_delivered(WAIT)
    mails = smtp_server.messages
    assert len(mails) <= 3
    listed = Counter(
        event_id
        for mail in mails
        for event_id in blocked
        if f"event {event_id}" in mail.body or f"Event:    {event_id}" in mail.body
    )
    assert listed == Counter(dict.fromkeys(blocked, 1))
    digest = next(m for m in mails if "digest" in m.subject)
    assert f"{len(blocked)} block decisions" in digest.subject or "digest:" in digest.subject
    assert f"{DASHBOARD}/events/" in digest.body


# --------------------------------------------------------------------------- TLS + login


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_smtp_over_tls_with_login(
    tmp_path: Path, transport: Transport, topics: Topics, security: str
) -> None:
    context = self_signed(tmp_path)
    samples, blocked = decisions(100, seed=61)
    with running_smtp(users={"alerts": "s3cret-pw"}, tls=security, tls_context=context) as smtp:
        channel = smtp_channel(
            smtp,
            security=security,
            username="alerts",
            password="s3cret-pw",
            verify_tls=False,
        )
        with Running(consumer_for(transport, topics, tmp_path / "home", [channel])) as consumer:
            publish(transport, topics, samples)
            smtp.wait_for(len(blocked), WAIT)
            assert consumer.wait_delivered(WAIT)
        assert set(mail_events(smtp)) == blocked
        assert "s3cret-pw" not in repr(channel.settings)

        # A wrong password is a delivery failure (retried), not a crash.
        bad = smtp_channel(
            smtp, security=security, username="alerts", password="wrong", verify_tls=False
        )
        record = next(s.record for s in samples if s.event_id in blocked)
        with pytest.raises(ChannelError, match="SMTP 535"):
            bad.send([Alert.from_record(record, DASHBOARD)])
