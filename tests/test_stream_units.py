"""The live pipeline's parts that need no detector: topics, rates, pacing, replay files, the
producer, dead letters, backoff and metrics (real embedded log, real HTTP endpoint)."""

from __future__ import annotations

import logging
import math
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from fraudstream.errors import InvalidInput
from fraudstream.events import TRANSACTION_FIELDS, parse_transaction
from fraudstream.simulate import FakeClock, Truth, generate_history, write_afd_csv
from fraudstream.stream.batch_loop import BatchLoop, LoopSettings, Rejected
from fraudstream.stream.delivery import Backoff, DeliveryAbandoned, Retrier
from fraudstream.stream.metrics import MetricsServer, PipelineMetrics, percentile
from fraudstream.stream.producer import TransactionProducer, paced, parse_rate, simulated
from fraudstream.stream.records import (
    DeadLetter,
    DeadLetterKind,
    dead_letter,
    dlq_kind,
)
from fraudstream.stream.replay import read_events
from fraudstream.stream.topics import Topics, ensure_topics
from fraudstream.stream.transport import (
    Consumer,
    FatalTransportError,
    Message,
    ProducerFenced,
    TransportError,
    TransportInputError,
    partition_for_key,
)
from fraudstream.stream.transport.embedded import EmbeddedTransport


@pytest.fixture
def transport(tmp_path: Path) -> Iterator[EmbeddedTransport]:
    t = EmbeddedTransport(tmp_path / "log.db", session_timeout=5.0)
    yield t
    t.close()


def read_all(transport: EmbeddedTransport, topic: str) -> list[Message]:
    with transport.consumer(f"reader-{topic}", [topic]) as consumer:
        out: list[Message] = []
        while batch := consumer.poll(max_messages=1000, timeout=0.2):
            out.extend(batch)
        return out


# --------------------------------------------------------------------------- topics / rates


def test_topics_defaults_prefix_and_validation(transport: EmbeddedTransport) -> None:
    assert Topics().all() == (
        "transactions",
        "processed_transactions",
        "transactions_dlq",
        "simulator_truth",
    )
    topics = Topics.prefixed("t1-")
    assert topics.processed == "t1-processed_transactions"
    with pytest.raises(TransportInputError):
        Topics(transactions="bad name")
    with pytest.raises(TransportInputError):
        Topics(processed="transactions")
    ensure_topics(transport, 3, topics)
    ensure_topics(transport, 3, topics)  # idempotent
    assert {name: transport.partitions_for(name) for name in topics.all()} == dict.fromkeys(
        topics.all(), 3
    )


@pytest.mark.parametrize(
    ("text", "per_s"),
    [
        ("30/min", 0.5),
        ("2000/s", 2000.0),
        ("5/h", 5 / 3600),
        ("250", 250.0),
        (12, 12.0),
        ("1.5 / second", 1.5),
        ("max", math.inf),
    ],
)
def test_parse_rate(text: str | float, per_s: float) -> None:
    assert parse_rate(text) == pytest.approx(per_s)


@pytest.mark.parametrize("text", ["", "fast", "0/s", "-3/min", "10/week", "nan"])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_rate(text)


def test_paced_spaces_items_without_catching_up_bursts() -> None:
    clock = FakeClock()
    items = [({"i": i}, None) for i in range(11)]
    out = list(paced(items, 5.0, clock=clock.time, sleep=clock.sleep))
    assert len(out) == 11
    assert clock.slept == pytest.approx(2.0)
    assert list(paced(items, math.inf)) == items


# --------------------------------------------------------------------------- producer


def test_producer_writes_keyed_records_and_separate_truth(transport: EmbeddedTransport) -> None:
    topics = ensure_topics(transport, 4)
    clock = FakeClock()
    source = simulated(
        0.5, seed=3, n_customers=50, fraud_rate=0.2, limit=60, clock=clock.time, sleep=clock.sleep
    )
    with TransactionProducer(transport, topics) as producer:
        stats = producer.run(source)
    assert stats.sent == 60
    assert stats.truths == 60
    assert clock.slept == pytest.approx(120, rel=0.5)  # 30/min in fake time
    records = read_all(transport, topics.transactions)
    truths = read_all(transport, topics.truth)
    assert len(records) == len(truths) == 60
    for message in records:
        record = orjson.loads(message.value)
        assert set(record) == set(TRANSACTION_FIELDS)  # no label inside the event
        parse_transaction(message.value)
        assert message.key == record["entity_id"].encode()
        assert message.partition == partition_for_key(record["entity_id"].encode(), 4)
    by_id = {orjson.loads(m.value)["event_id"]: orjson.loads(m.value) for m in truths}
    assert set(by_id) == {orjson.loads(m.value)["event_id"] for m in records}
    assert all(isinstance(t["is_fraud"], bool) for t in by_id.values())
    assert any(t["is_fraud"] and t["fraud_kind"] for t in by_id.values())


def test_producer_sends_raw_bytes_unchanged(transport: EmbeddedTransport) -> None:
    topics = ensure_topics(transport, 2)
    with TransactionProducer(transport, topics) as producer:
        producer.send(b'{"entity_id": "c1", "x": 1}', Truth(True))
        producer.send(b"not json at all")
    messages = read_all(transport, topics.transactions)
    assert sorted(m.value for m in messages) == sorted(
        [b'{"entity_id": "c1", "x": 1}', b"not json at all"]
    )
    assert {m.value: m.key for m in messages}[b"not json at all"] is None
    assert len(read_all(transport, topics.truth)) == 1


# --------------------------------------------------------------------------- replay files


def test_replay_afd_csv_keeps_labels_out_of_the_record(tmp_path: Path) -> None:
    history = generate_history(200, n_customers=20, seed=5, days=5, fraud_rate=0.1)
    path = tmp_path / "afd.csv"
    write_afd_csv(history, path)
    items = list(read_events(path))
    assert len(items) == 200
    expected = history.frame["is_fraud"].tolist()
    for (record, truth), fraud in zip(items, expected, strict=True):
        assert isinstance(record, dict)
        tx = parse_transaction(record)
        assert set(tx.to_record()) == set(TRANSACTION_FIELDS)
        assert "EVENT_LABEL" not in record
        assert "ENTITY_TYPE" not in record
        assert truth is not None
        assert truth.is_fraud == fraud
    first, (replayed, _) = history.records()[0], items[0]
    assert isinstance(replayed, dict)
    assert replayed["event_id"] == first["event_id"]
    assert replayed["transaction_amt"] == pytest.approx(first["transaction_amt"])


def test_replay_record_csv_and_jsonl(tmp_path: Path) -> None:
    history = generate_history(30, n_customers=10, seed=9, days=2)
    csv_path = tmp_path / "records.csv"
    history.frame.to_csv(csv_path, index=False)
    items = list(read_events(csv_path))
    assert len(items) == 30
    assert all(parse_transaction(r) for r, _ in items)
    assert [t.is_fraud if t else None for _, t in items] == history.frame["is_fraud"].tolist()

    lines = [orjson.dumps(r) for r in history.records()[:5]] + [b"{broken", b"", b"[1]"]
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_bytes(b"\n".join(lines) + b"\n")
    raw = [r for r, _ in read_events(jsonl)]
    assert raw == [line for line in lines if line]  # bytes unchanged, blank lines skipped
    with pytest.raises(InvalidInput):
        list(read_events(tmp_path / "events.parquet"))


# --------------------------------------------------------------------------- dead letters


def _message(value: bytes, key: bytes | None = b"k") -> Message:
    return Message("transactions", 2, 41, key, value, (("trace", b"abc"),), 1_700_000_000_000)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (b"{oops", DeadLetterKind.MALFORMED_JSON),
        (b"", DeadLetterKind.MALFORMED_JSON),
        (b"[1, 2]", DeadLetterKind.NOT_AN_OBJECT),
        (b'{"event_id": "a"}', DeadLetterKind.INVALID),
        (b"x" * 70_000, DeadLetterKind.TOO_LARGE),
    ],
)
def test_dead_letter_round_trip(value: bytes, kind: DeadLetterKind) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_transaction(value)
    assert dlq_kind(caught.value) == kind
    out = dead_letter(
        "dlq", _message(value), kind, str(caught.value), problems=caught.value.problems
    )
    assert out.value == value
    assert out.key == b"k"
    letter = DeadLetter.from_message(Message("dlq", 0, 0, out.key, out.value, out.headers, 0))
    assert letter.kind == kind.value
    assert letter.reason == str(caught.value)
    assert letter.problems == caught.value.problems
    assert letter.source == ("transactions", 2)
    assert letter.source_offset == 41
    assert letter.truncated_from is None
    assert ("trace", b"abc") in out.headers  # the input's own headers are kept


def test_dead_letter_truncates_giants() -> None:
    out = dead_letter("dlq", _message(b"y" * 5000), DeadLetterKind.TOO_LARGE, "big", max_bytes=100)
    letter = DeadLetter.from_message(Message("dlq", 0, 0, out.key, out.value, out.headers, 0))
    assert out.value == b"y" * 100
    assert letter.truncated_from == 5000


# --------------------------------------------------------------------------- retries


def test_backoff_doubles_up_to_the_maximum() -> None:
    b = Backoff(0.1, 1.0)
    assert [b.delay(i) for i in range(1, 6)] == [0.1, 0.2, 0.4, 0.8, 1.0]


def test_retrier_retries_then_gives_up_only_after_stop_and_grace() -> None:
    clock = FakeClock()
    metrics = PipelineMetrics()
    stop = threading.Event()
    retrier = Retrier(Backoff(1.0, 4.0), metrics, stop, 10.0, clock.sleep, clock.time)
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 5:
            raise TransportError("down")
        return "ok"

    assert retrier.run("produce", flaky) == "ok"
    assert clock.slept == pytest.approx(1 + 2 + 4 + 4)
    with pytest.raises(ValueError, match="not retriable"):
        retrier.run("produce", lambda: (_ for _ in ()).throw(ValueError("not retriable")))

    def down() -> None:
        raise TransportError("still down")

    stop.set()
    with pytest.raises(DeliveryAbandoned):
        retrier.run("produce", down)
    assert 'fraudstream_delivery_retries_total{step="produce"}' in _exposition(metrics)


# --------------------------------------------------------------------------- metrics


def _exposition(metrics: PipelineMetrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def test_metrics_endpoint_and_summary() -> None:
    clock = FakeClock()
    metrics = PipelineMetrics(clock=clock.time)
    metrics.consumed(100)
    metrics.written(
        ["approve"] * 90 + ["block"] * 5, ["malformed_json"] * 5, [0.001 * i for i in range(1, 96)]
    )
    metrics.set_lag(7)
    clock.advance(10)
    assert metrics.due(10)
    line = metrics.summary()
    assert "10 tx/s" in line
    assert "approve=90 block=5" in line
    assert "dlq 5" in line
    assert "p50 48.0 ms" in line
    assert "p99 95.0 ms" in line
    assert "lag 7" in line
    assert not metrics.due(10)
    server = MetricsServer(metrics.registry, 0)
    try:
        with urllib.request.urlopen(server.url, timeout=5) as response:
            text = response.read().decode()
    finally:
        server.close()
    assert "fraudstream_events_in_total 100.0" in text
    assert 'fraudstream_decisions_total{outcome="approve"} 90.0' in text
    assert 'fraudstream_dead_letters_total{kind="malformed_json"} 5.0' in text
    assert "fraudstream_consumer_lag 7.0" in text
    assert "fraudstream_decision_latency_seconds_bucket" in text
    # Two pipelines in one process do not clash: each has its own registry.
    assert PipelineMetrics().registry is not metrics.registry


def test_percentile_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) == 0.0


# --------------------------------------------------------------------------- fatal errors


def test_kafka_errors_are_classified_fatal_or_retriable() -> None:
    from confluent_kafka import KafkaError, KafkaException

    from fraudstream.stream.transport.kafka.errors import FatalLatch, classify

    fenced = KafkaError(KafkaError.FENCED_INSTANCE_ID, "fenced by a newer member", fatal=True)
    fatal = classify("poll failed", KafkaException(fenced))
    assert isinstance(fatal, FatalTransportError)
    assert "FENCED_INSTANCE_ID" in str(fatal)
    assert "cannot recover" in str(fatal)
    latched = classify("poll failed", KafkaError(KafkaError._FATAL, "see the fatal error"))
    assert isinstance(latched, FatalTransportError)
    down = KafkaException(KafkaError(KafkaError._TRANSPORT, "broker down", retriable=True))
    retriable = classify("poll failed", down)
    assert type(retriable) is TransportError
    assert not isinstance(retriable, FatalTransportError)
    assert issubclass(ProducerFenced, FatalTransportError)

    latch = FatalLatch()
    latch(KafkaError(KafkaError._TRANSPORT, "blip"))
    latch.check("poll")  # a non-fatal background error changes nothing
    latch(fenced)
    latch(KafkaError(KafkaError._FATAL, "later"))
    with pytest.raises(FatalTransportError, match="FENCED_INSTANCE_ID"):
        latch.check("poll")  # the first fatal error is the one reported


def test_retrier_never_retries_a_fatal_error() -> None:
    calls: list[int] = []

    def fatal() -> None:
        calls.append(1)
        raise FatalTransportError("fenced")

    retrier = Retrier(Backoff(0.01, 0.01), sleep=lambda _: None)
    with pytest.raises(FatalTransportError):
        retrier.run("poll", fatal, retriable=(Exception,))
    assert calls == [1]


class FailingPolls:
    """Wraps a consumer so that ``poll`` raises ``errors`` in turn, then works."""

    def __init__(self, consumer: Consumer, errors: list[BaseException]) -> None:
        self.consumer = consumer
        self.errors = errors

    def poll(self, max_messages: int = 500, timeout: float = 1.0) -> list[Message]:
        if self.errors:
            raise self.errors.pop(0)
        return self.consumer.poll(max_messages, timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.consumer, name)


def test_batch_loop_retries_transient_errors_and_stops_on_fatal(
    transport: EmbeddedTransport, caplog: pytest.LogCaptureFixture
) -> None:
    transport.create_topics(["in", "dlq"], 2)
    with transport.producer() as producer:
        for i in range(10):
            producer.produce("in", b"bad" if i == 3 else f'{{"i": {i}}}', key=f"k{i}")
    seen: list[bytes] = []
    errors: list[tuple[str, str]] = []

    def handle(messages: Sequence[Message]) -> list[Rejected]:
        seen.extend(m.value for m in messages)
        return [Rejected(m, "not JSON") for m in messages if m.value == b"bad"]

    settings = LoopSettings(group_id="loop", poll_timeout=0.05, retry_initial=0.001, dlq="dlq")
    loop = BatchLoop(
        transport,
        ["in"],
        handle,
        settings,
        name="test",
        on_error=lambda step, exc, attempt: errors.append((step, type(exc).__name__)),
    )
    consumer = loop.open()
    loop.consumer = FailingPolls(consumer, [TransportError("blip")])  # type: ignore[assignment]
    assert loop.run(idle_timeout=0.3) == 10
    assert errors == [("poll", "TransportError")]
    assert sorted(seen) == sorted(
        [b"bad", *(f'{{"i": {i}}}'.encode() for i in range(10) if i != 3)]
    )
    assert loop.dead_letters == 1
    (letter,) = [DeadLetter.from_message(m) for m in read_all(transport, "dlq")]
    assert (letter.value, letter.reason, letter.kind) == (b"bad", "not JSON", "invalid")
    assert sum(consumer.committed().values()) == 10

    loop.consumer = FailingPolls(consumer, [FatalTransportError("fenced for good")])  # type: ignore[assignment]
    caplog.set_level(logging.ERROR)
    with pytest.raises(FatalTransportError):
        loop.run(idle_timeout=5)
    assert "fatal transport error" in caplog.text
    assert errors == [("poll", "TransportError")]  # not retried
    loop.close()


class BrokenScorer:
    def predict(self, event: Any, detector_id: str) -> Any:
        raise AssertionError("never reached")

    def flush(self) -> None:
        pass


def test_processor_stops_on_a_fatal_error_instead_of_retrying(
    transport: EmbeddedTransport,
) -> None:
    from fraudstream.stream.processor import Processor, ProcessorSettings

    topics = ensure_topics(transport, 1)
    settings = ProcessorSettings(retry_initial=0.001, summary_every=0, lag_every=0)
    with Processor(transport, BrokenScorer(), settings, topics=topics) as processor:
        processor.open()
        real = processor._consumer
        assert real is not None
        fatal = FatalTransportError("poll failed: fatal Kafka error _FATAL: fenced")
        processor._consumer = FailingPolls(real, [fatal])  # type: ignore[assignment]
        with pytest.raises(FatalTransportError, match="fenced"):
            processor.run(idle_timeout=5)
