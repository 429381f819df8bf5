"""Dead letters after the fact, on the embedded log and a real Kafka broker: the processor
dead-letters what it cannot score, ``fraudstream dlq list`` shows why, and ``replay`` sends the
records back to their source topic once the cause is fixed: each one handled once in the DLQ's
bookkeeping, none lost, at-least-once across a crash between the write and the commit."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from click.testing import CliRunner

from fraudstream.cli.dlq_cmds import dlq
from fraudstream.events import Event
from fraudstream.simulate import FakeClock
from fraudstream.stream.delivery import AtLeastOnce
from fraudstream.stream.dlq import REPLAY_OF, list_dead_letters, replay
from fraudstream.stream.processor import Processor, ProcessorSettings
from fraudstream.stream.producer import TransactionProducer, simulated
from fraudstream.stream.topics import Topics, ensure_topics
from fraudstream.stream.transport import Message, Transport, open_transport

KAFKA_TEST_CONFIG = {
    "consumer.session.timeout.ms": "6000",
    "consumer.heartbeat.interval.ms": "500",
    "consumer.fetch.wait.max.ms": "10",
    "producer.linger.ms": "1",
}
WAIT = 60.0
GOOD = 10


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "embedded":
        return f"embedded:{tmp_path / 'log.db'}?session_timeout=2"
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    return f"kafka://{bootstrap}?{urlencode(KAFKA_TEST_CONFIG)}"


@pytest.fixture
def topics() -> Topics:
    return Topics.prefixed(f"d{uuid.uuid4().hex[:8]}-")


@pytest.fixture
def transport(url: str, topics: Topics) -> Iterator[Transport]:
    with open_transport(url) as t:
        ensure_topics(t, 2, topics)
        yield t


class Decided:
    def __init__(self, event_id: str) -> None:
        self.event_id = event_id

    @property
    def outcome(self) -> str | None:
        return "approve"

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": "approve", "scores": {}}


class Scorer:
    """Fails for the event ids in ``broken`` (a bug), decides the rest."""

    def __init__(self) -> None:
        self.broken: set[str] = set()

    def predict(self, event: Event, detector_id: str) -> Decided:
        if event.event_id in self.broken:
            raise ValueError("model input has a NaN where it must not")
        return Decided(event.event_id)

    def flush(self) -> None:
        pass


def produce_inputs(transport: Transport, topics: Topics) -> list[str]:
    """GOOD valid transactions and two malformed messages; returns the valid event ids."""
    clock = FakeClock()
    source = simulated(
        100.0, seed=5, n_customers=20, limit=GOOD, burst=None, clock=clock.time, sleep=clock.sleep
    )
    ids: list[str] = []
    with TransactionProducer(transport, topics, truth=False) as producer:
        for record, _ in source:
            ids.append(record["event_id"])
            producer.send(record)
        producer.send(b"{not json")
        producer.send(b"[1, 2, 3]")
    return ids


def process(transport: Transport, topics: Topics, scorer: Scorer, group: str) -> int:
    settings = ProcessorSettings(
        group_id=group, batch_size=50, summary_every=0, lag_every=0, instance="t"
    )
    with Processor(transport, scorer, settings, topics=topics) as processor:
        return processor.run(idle_timeout=1.5)


def read_all(transport: Transport, topic: str) -> list[Message]:
    """Every message of ``topic``, up to its end offsets now."""
    ends = transport.end_offsets(topic)
    out: list[Message] = []
    done = dict.fromkeys(ends, 0)
    with transport.consumer(f"r-{uuid.uuid4().hex[:8]}", [topic]) as consumer:
        deadline = time.monotonic() + WAIT
        while any(done[p] < e for p, e in ends.items()):
            assert time.monotonic() < deadline, f"{topic}: read {done} of {ends}"
            for m in consumer.poll(max_messages=500, timeout=0.2):
                if m.offset < ends[m.partition]:
                    out.append(m)
                    done[m.partition] = max(done[m.partition], m.offset + 1)
    return out


def decided_ids(transport: Transport, topics: Topics) -> Counter[str]:
    return Counter(orjson.loads(m.value)["event_id"] for m in read_all(transport, topics.processed))


def test_list_then_replay_after_a_fix_handles_each_dead_letter_once(
    transport: Transport, topics: Topics
) -> None:
    ids = produce_inputs(transport, topics)
    scorer = Scorer()
    scorer.broken = set(ids[:3])
    assert process(transport, topics, scorer, "proc") == GOOD + 2

    entries = list_dead_letters(transport, topics)
    assert Counter(e.letter.kind for e in entries) == {"scoring_error": 3, "malformed_json": 1,
                                                       "not_an_object": 1}  # fmt: skip
    assert not any(e.handled for e in entries)
    scoring = [e for e in entries if e.letter.kind == "scoring_error"]
    assert all("NaN" in e.letter.reason for e in scoring)
    assert all(e.letter.source.topic == topics.transactions for e in entries)
    assert set(decided_ids(transport, topics)) == set(ids[3:])

    # A partial fix: two of the three now score; the third fails again.
    scorer.broken = {ids[0]}
    report = replay(transport, topics, dismiss={"malformed_json", "not_an_object"})
    assert report.replayed == {topics.transactions: 3}
    assert report.dismissed == {"kind malformed_json": 1, "kind not_an_object": 1}
    assert report.uncommitted == 0
    assert list_dead_letters(transport, topics, pending_only=True) == []
    assert replay(transport, topics).total_replayed == 0  # nothing is handled twice

    process(transport, topics, scorer, "proc")
    assert set(decided_ids(transport, topics)) == set(ids[1:])
    (again,) = list_dead_letters(transport, topics, pending_only=True)
    original = next(e for e in scoring if orjson.loads(e.letter.value)["event_id"] == ids[0])
    assert again.replay_of == f"{topics.dlq}{original.where}"
    assert again.letter.kind == "scoring_error"
    assert len(list_dead_letters(transport, topics)) == len(entries) + 1

    scorer.broken = set()
    assert replay(transport, topics).replayed == {topics.transactions: 1}
    process(transport, topics, scorer, "proc")
    decided = decided_ids(transport, topics)
    assert set(decided) == set(ids)
    assert all(n == 1 for n in decided.values())  # each replayed record decided once
    assert list_dead_letters(transport, topics, pending_only=True) == []


def test_replay_is_at_least_once_across_a_crash_and_resumes_after_a_limit(
    transport: Transport, topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = produce_inputs(transport, topics)
    scorer = Scorer()
    scorer.broken = set(ids[:4])
    process(transport, topics, scorer, "proc")
    assert len(list_dead_letters(transport, topics)) == 6

    real_commit = AtLeastOnce._commit

    def crash(self: AtLeastOnce, *args: Any) -> bool:
        raise RuntimeError("killed between the write and the commit")

    monkeypatch.setattr(AtLeastOnce, "_commit", crash)
    with pytest.raises(RuntimeError, match="killed"):
        replay(transport, topics, dismiss={"malformed_json", "not_an_object"}, limit=3)
    monkeypatch.setattr(AtLeastOnce, "_commit", real_commit)
    # Written but not marked: still pending, so nothing is lost.
    assert len(list_dead_letters(transport, topics, pending_only=True)) == 6

    first = replay(transport, topics, dismiss={"malformed_json", "not_an_object"}, limit=3)
    assert first.total_replayed + sum(first.dismissed.values()) == 3
    rest = replay(transport, topics, dismiss={"malformed_json", "not_an_object"})
    assert first.total_replayed + rest.total_replayed == 4
    assert sum(first.dismissed.values()) + sum(rest.dismissed.values()) == 2
    assert list_dead_letters(transport, topics, pending_only=True) == []

    replayed = Counter(
        orjson.loads(m.value)["event_id"]
        for m in read_all(transport, topics.transactions)
        if m.header(REPLAY_OF) is not None
    )
    assert set(replayed) == set(ids[:4])  # every one at least once
    assert sum(replayed.values()) <= 4 + 3  # and only the crashed batch twice


def test_the_dlq_command_lists_and_replays(url: str, transport: Transport, topics: Topics) -> None:
    ids = produce_inputs(transport, topics)
    scorer = Scorer()
    scorer.broken = {ids[0]}
    process(transport, topics, scorer, "proc")
    prefix = topics.transactions.removesuffix("transactions")
    common = ["--broker", url, "--topic-prefix", prefix]
    runner = CliRunner()

    listed = runner.invoke(dlq, ["list", *common])
    assert listed.exit_code == 0, listed.output
    assert "3 dead letters" in listed.output
    assert "3 pending" in listed.output
    assert "scoring_error" in listed.output
    assert "NaN" in listed.output
    assert ids[0] not in listed.output  # reasons only, never the payload

    rows = runner.invoke(dlq, ["list", "--json", *common])
    assert rows.exit_code == 0, rows.output
    kinds = sorted(orjson.loads(line)["kind"] for line in rows.output.splitlines())
    assert kinds == ["malformed_json", "not_an_object", "scoring_error"]

    scorer.broken = set()
    replayed = runner.invoke(
        dlq, ["replay", *common, "--dismiss", "malformed_json", "--dismiss", "not_an_object"]
    )
    assert replayed.exit_code == 0, replayed.output
    assert f"1 replayed, 1 to {topics.transactions}" in replayed.output
    pending = runner.invoke(dlq, ["list", "--pending", *common])
    assert "0 pending" in pending.output
    process(transport, topics, scorer, "proc")
    assert set(decided_ids(transport, topics)) == set(ids)

    bad = runner.invoke(dlq, ["list", "--broker", "nowhere://x"])
    assert bad.exit_code == 2
