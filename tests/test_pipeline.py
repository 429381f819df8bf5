"""The live pipeline end to end, in-process, on the embedded log and on a real Kafka broker:
producer -> transactions -> processor (real trained engine) -> processed_transactions / DLQ.

Failures are injected by wrapping a real transport (:class:`FlakyTransport`): its producers
fail for a while the way a broken downstream does (produce raising, flush reporting lost
messages, transactions aborting or ending with an unknown outcome), then recover.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from fixtures.detector import TRAINING_CUSTOMERS, TRAINING_SEED
from fraudstream.detector.engine import Engine
from fraudstream.events import Event, parse_transaction
from fraudstream.stream.delivery import DeliveryAbandoned
from fraudstream.stream.processor import Decision, Processor, ProcessorSettings
from fraudstream.stream.producer import TransactionProducer, simulated
from fraudstream.stream.records import DeadLetter
from fraudstream.stream.topics import Topics, ensure_topics
from fraudstream.stream.transport import (
    Consumer,
    DeliveryFailed,
    Message,
    Producer,
    TransactionAborted,
    TransactionalProducer,
    Transport,
    TransportError,
    open_transport,
)
from fraudstream.stream.transport.base import HeadersLike, OffsetsLike

# Fast group rebalances and fetches for tests; production keeps librdkafka's defaults.
KAFKA_TEST_CONFIG = {
    "consumer.session.timeout.ms": "6000",
    "consumer.heartbeat.interval.ms": "500",
    "consumer.fetch.wait.max.ms": "10",
    # A member killed with -9 never leaves: the group waits for it up to the rebalance
    # timeout (max.poll.interval.ms, 5 min by default) before a restart gets its partitions.
    "consumer.max.poll.interval.ms": "10000",
    "producer.linger.ms": "1",
}
OUTCOMES = {"approve", "review", "block"}
WAIT = 60.0


def kafka_url(bootstrap: str) -> str:
    return f"kafka://{bootstrap}?{urlencode(KAFKA_TEST_CONFIG)}"


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def pipeline_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "embedded":
        return f"embedded:{tmp_path / 'log.db'}?session_timeout=2"
    return kafka_url(request.getfixturevalue("kafka_bootstrap"))


@pytest.fixture
def topics() -> Topics:
    return Topics.prefixed(f"t{uuid.uuid4().hex[:8]}-")


def group_name() -> str:
    return f"g-{uuid.uuid4().hex[:8]}"


def fast_settings(**overrides: Any) -> ProcessorSettings:
    options: dict[str, Any] = {
        "group_id": group_name(),
        "batch_size": 50,
        "retry_initial": 0.01,
        "retry_max": 0.05,
        "summary_every": 0,
        "instance": "test",
    }
    options.update(overrides)
    return ProcessorSettings(**options)


# --------------------------------------------------------------------------- helpers


def produce_simulated(
    transport: Transport, topics: Topics, count: int, *, seed_offset: int = 0
) -> list[dict[str, Any]]:
    """``count`` live simulated transactions of the training customers (real time, fast),
    returned as sent."""
    seed = TRAINING_SEED + seed_offset
    sent: list[dict[str, Any]] = []

    def source() -> Iterator[tuple[dict[str, Any], Any]]:
        for record, truth in simulated(
            5_000, seed=seed, n_customers=TRAINING_CUSTOMERS, limit=count, burst=None
        ):
            sent.append(record)
            yield record, truth

    with TransactionProducer(transport, topics) as producer:
        producer.run(source())
    return sent


def read_topic(
    transport: Transport, topic: str, count: int | None = None, *, quiet: float = 1.0
) -> list[Message]:
    """Every message of ``topic`` (read_committed) from the start: until ``count`` arrived
    and then ``quiet`` seconds without more (``count=None``: only the quiet period)."""
    out: list[Message] = []
    with transport.consumer(group_name(), [topic]) as consumer:
        deadline = time.monotonic() + WAIT
        last: float | None = None  # quiet time counts once the group gave us the partitions
        while time.monotonic() < deadline:
            batch = consumer.poll(max_messages=1000, timeout=0.2)
            now = time.monotonic()
            if last is None and consumer.assignment():
                last = now
            if batch:
                out.extend(batch)
                last = now
            elif last is not None and (count is None or len(out) >= count) and now - last >= quiet:
                return out
    raise AssertionError(f"{topic}: got {len(out)} messages, wanted {count}")


def event_ids(messages: Iterable[Message]) -> list[str]:
    return [orjson.loads(m.value)["event_id"] for m in messages]


def committed_total(transport: Transport, group: str, topic: str) -> int:
    with transport.consumer(group, [topic]) as consumer:
        return sum(consumer.committed().values())


# --------------------------------------------------------------------------- failure injection


@dataclass
class FailurePlan:
    """How many upcoming calls fail. ``on_fail`` runs at each injected failure."""

    produce: int = 0  # produce() raises TransportError (message not queued)
    flush_lost: int = 0  # flush() drops the queued messages and raises DeliveryFailed
    commit_aborted: int = 0  # commit_with_offsets aborts (nothing written)
    commit_unknown: int = 0  # commit_with_offsets raises TransportError, txn left open
    forever: bool = False  # every produce fails
    failures: int = 0
    on_fail: Any = None

    def take(self, kind: str) -> bool:
        if self.forever and kind == "produce":
            hit = True
        else:
            left = getattr(self, kind)
            hit = left > 0
            if hit:
                setattr(self, kind, left - 1)
        if hit:
            self.failures += 1
            if self.on_fail is not None:
                self.on_fail()
        return hit


class FlakyProducer(Producer):
    """A real producer behind a failing front: messages reach it only on a good flush."""

    def __init__(self, inner: Producer, plan: FailurePlan) -> None:
        self.inner = inner
        self.plan = plan
        self.pending: list[tuple[str, bytes | str, bytes | str | None, HeadersLike]] = []

    def produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None = None,
        headers: HeadersLike = None,
    ) -> None:
        if self.plan.take("produce"):
            raise TransportError(f"injected: topic {topic!r} unavailable")
        self.pending.append((topic, value, key, headers))

    def flush(self, timeout: float | None = None) -> None:
        if self.plan.take("flush_lost"):
            lost = len(self.pending)
            self.pending.clear()
            raise DeliveryFailed(f"injected: {lost} message(s) not delivered", lost)
        for topic, value, key, headers in self.pending:
            self.inner.produce(topic, value, key=key, headers=headers)
        self.pending.clear()
        self.inner.flush(timeout)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.inner.close()


class FlakyTransactionalProducer(TransactionalProducer):
    def __init__(self, inner: TransactionalProducer, plan: FailurePlan) -> None:
        self.inner = inner
        self.plan = plan
        self.transactional_id = inner.transactional_id

    @property
    def in_transaction(self) -> bool:
        return self.inner.in_transaction

    def begin(self) -> None:
        self.inner.begin()

    def produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None = None,
        headers: HeadersLike = None,
    ) -> None:
        if self.plan.take("produce"):
            raise TransportError(f"injected: topic {topic!r} unavailable")
        self.inner.produce(topic, value, key=key, headers=headers)

    def commit_with_offsets(self, consumer: Consumer, offsets: OffsetsLike) -> None:
        if self.plan.take("commit_aborted"):
            self.inner.abort()
            raise TransactionAborted("injected: transaction aborted")
        if self.plan.take("commit_unknown"):
            raise TransportError("injected: commit outcome unknown")
        self.inner.commit_with_offsets(consumer, offsets)

    def commit(self) -> None:
        self.inner.commit()

    def abort(self) -> None:
        self.inner.abort()

    def close(self) -> None:
        self.inner.close()


class FlakyTransport(Transport):
    """A real transport whose producers fail as ``plan`` says (consumers are the real ones)."""

    def __init__(self, inner: Transport, plan: FailurePlan) -> None:
        self.inner = inner
        self.plan = plan

    def create_topics(self, names: Iterable[str], partitions: int = 1) -> None:
        self.inner.create_topics(names, partitions)

    def partitions_for(self, topic: str) -> int:
        return self.inner.partitions_for(topic)

    def producer(self) -> Producer:
        return FlakyProducer(self.inner.producer(), self.plan)

    def transactional_producer(self, transactional_id: str) -> TransactionalProducer:
        return FlakyTransactionalProducer(
            self.inner.transactional_producer(transactional_id), self.plan
        )

    def consumer(
        self, group_id: str, topics: Iterable[str], *, from_beginning: bool = True
    ) -> Consumer:
        return self.inner.consumer(group_id, topics, from_beginning=from_beginning)

    def end_offsets(self, topic: str) -> dict[int, int]:
        return self.inner.end_offsets(topic)

    def redacted(self) -> str:
        return f"flaky({self.inner.redacted()})"

    def close(self) -> None:
        self.inner.close()


class RaisingScorer:
    """The real engine, except that it blows up on chosen event ids."""

    def __init__(self, engine: Engine, bad: set[str]) -> None:
        self.engine = engine
        self.bad = bad

    def predict(self, event: Event, detector_id: str) -> Decision:
        if event.event_id in self.bad:
            raise RuntimeError("injected engine failure")
        return self.engine.predict(event, detector_id)

    def flush(self) -> None:
        self.engine.flush()


@pytest.fixture
def engine(detector_home: Path) -> Iterator[Engine]:
    e = Engine.open(detector_home)
    yield e
    e.close()


# --------------------------------------------------------------------------- tests


def check_decision(message: Message, sent: dict[str, Any]) -> dict[str, Any]:
    record = orjson.loads(message.value)
    fd: dict[str, Any] = record.pop("fd")
    assert record == parse_transaction(sent).to_record()  # the input record, normalised
    assert message.key == sent["entity_id"].encode()
    assert fd["outcome"] in OUTCOMES
    assert fd["ttdf"] >= fd["proc_time"] >= 0
    assert 0 < fd["frauddetector_time"] < 5_000
    assert fd["ttdf"] < 60_000  # event time is "now" in a live stream
    assert fd["detector_id"] == "fraudstream_detector"
    assert fd["detector_version_id"] == "1"
    assert set(fd["scores"]) == {"fraudstream_model_insightscore"}
    assert 0 <= fd["scores"]["fraudstream_model_insightscore"] <= 1000
    assert fd["rules"][0]["outcomes"] == [fd["outcome"]]
    assert isinstance(fd["reasons"], list)
    if fd["outcome"] != "approve":
        assert fd["reasons"], "flagged decisions explain themselves"
    return fd


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
def test_end_to_end_decisions(
    pipeline_url: str, topics: Topics, engine: Engine, exactly_once: bool
) -> None:
    with open_transport(pipeline_url) as transport:
        ensure_topics(transport, 4, topics)
        sent = produce_simulated(transport, topics, 300)
        settings = fast_settings(exactly_once=exactly_once)
        with Processor(transport, engine, settings, topics=topics) as processor:
            handled = processor.run(max_events=300, idle_timeout=WAIT)
            assert processor.refresh_lag() == 0
        assert handled == 300
        assert processor.metrics.total_decisions == 300
        outputs = read_topic(transport, topics.processed, 300)
        by_id = {r["event_id"]: r for r in sent}
        assert sorted(event_ids(outputs)) == sorted(by_id)  # each once, none lost
        fds = [check_decision(m, by_id[orjson.loads(m.value)["event_id"]]) for m in outputs]
        assert {fd["outcome"] for fd in fds} <= OUTCOMES
        truth = read_topic(transport, topics.truth, 300)
        assert sorted(event_ids(truth)) == sorted(by_id)
        assert read_topic(transport, topics.dlq, quiet=0.3) == []


BAD_INPUTS: dict[str, bytes] = {
    "malformed_json": b'{"transaction_amt": 12.5, "email_address": ',
    "empty": b"",
    "not_an_object": b'["a", "list"]',
    "too_large": b'{"pad": "' + b"x" * 70_000 + b'"}',
}


def bad_records(good: dict[str, Any]) -> dict[str, tuple[bytes, str, str]]:
    """name -> (value, expected kind, a problem location it must name)."""
    missing = {k: v for k, v in good.items() if k != "transaction_amt"}
    mistyped = {**good, "card_bin": "not-a-number"}
    absurd = {**good, "transaction_amt": 1e15, "billing_latitude": 512.0}
    bad_time = {**good, "event_time": "yesterday-ish"}
    return {
        "malformed_json": (BAD_INPUTS["malformed_json"], "malformed_json", "$"),
        "empty": (BAD_INPUTS["empty"], "malformed_json", "$"),
        "not_an_object": (BAD_INPUTS["not_an_object"], "not_an_object", "$"),
        "too_large": (BAD_INPUTS["too_large"], "too_large", "$"),
        "missing_field": (orjson.dumps(missing), "invalid", "transaction_amt"),
        "mistyped_field": (orjson.dumps(mistyped), "invalid", "card_bin"),
        "absurd_values": (orjson.dumps(absurd), "invalid", "billing_latitude"),
        "bad_time": (orjson.dumps(bad_time), "invalid", "event_time"),
    }


def test_dead_letters_keep_the_original_bytes_and_the_reason(
    pipeline_url: str, topics: Topics, engine: Engine
) -> None:
    with open_transport(pipeline_url) as transport:
        ensure_topics(transport, 4, topics)
        good = produce_simulated(transport, topics, 60)
        bad = bad_records(good[0])
        with transport.producer() as raw:
            for name, (value, _, _) in bad.items():
                raw.produce(topics.transactions, value, key=name, headers={"origin": name})
        more_good = produce_simulated(transport, topics, 40, seed_offset=1)
        explode = more_good[5]["event_id"]
        scorer = RaisingScorer(engine, {explode})
        total = 100 + len(bad)
        with Processor(transport, scorer, fast_settings(), topics=topics) as processor:
            assert processor.run(max_events=total, idle_timeout=WAIT) == total
        assert processor.metrics.total_dead_letters == len(bad) + 1

        decided = read_topic(transport, topics.processed, 99)
        expected = {r["event_id"] for r in good + more_good} - {explode}
        assert sorted(event_ids(decided)) == sorted(expected)

        dlq = read_topic(transport, topics.dlq, len(bad) + 1)
        assert len(dlq) == len(bad) + 1
        letters = [DeadLetter.from_message(m) for m in dlq]
        by_origin = {}
        for letter, message in zip(letters, dlq, strict=True):
            origin = message.header("origin")
            by_origin[origin.decode() if origin else "engine"] = letter
        for name, (value, kind, where) in bad.items():
            letter = by_origin[name]
            assert letter.value == value, name  # original bytes
            assert letter.key == name.encode()
            assert letter.kind == kind, name
            assert letter.reason, name
            assert any(p[0] == where for p in letter.problems), (name, letter.problems)
            assert letter.source.topic == topics.transactions
            assert letter.source.partition >= 0
            assert letter.source_offset >= 0
        crash = by_origin["engine"]
        assert crash.kind == "scoring_error"
        assert "injected engine failure" in crash.reason
        assert crash.error == "RuntimeError"
        assert orjson.loads(crash.value)["event_id"] == explode
        # Card or contact data never leaks into a reason.
        assert all(good[0]["email_address"] not in letter.reason for letter in letters)


@pytest.mark.parametrize(
    ("exactly_once", "plan"),
    [
        (False, FailurePlan(produce=4, flush_lost=3)),
        (True, FailurePlan(produce=2, commit_aborted=2, commit_unknown=2)),
    ],
    ids=["at-least-once", "exactly-once"],
)
def test_broken_downstream_is_retried_without_loss(
    pipeline_url: str, topics: Topics, engine: Engine, exactly_once: bool, plan: FailurePlan
) -> None:
    with open_transport(pipeline_url) as real:
        ensure_topics(real, 4, topics)
        sent = produce_simulated(real, topics, 200)
        flaky = FlakyTransport(real, plan)
        settings = fast_settings(exactly_once=exactly_once, batch_size=40)
        with Processor(flaky, engine, settings, topics=topics) as processor:
            assert processor.run(max_events=200, idle_timeout=WAIT) == 200
        assert plan.failures >= 6
        outputs = event_ids(read_topic(real, topics.processed, 200))
        assert set(outputs) == {r["event_id"] for r in sent}  # nothing lost
        if exactly_once:
            assert len(outputs) == 200  # and nothing twice
        assert committed_total(real, settings.group_id, topics.transactions) == 200


def test_stop_while_downstream_is_down_commits_nothing(
    pipeline_url: str, topics: Topics, engine: Engine
) -> None:
    with open_transport(pipeline_url) as real:
        ensure_topics(real, 4, topics)
        sent = produce_simulated(real, topics, 100)
        settings = fast_settings(stop_grace=0.3)
        plan = FailurePlan(forever=True)
        processor = Processor(FlakyTransport(real, plan), engine, settings, topics=topics)
        plan.on_fail = processor.stop  # SIGTERM arrives while the output topic is down
        with processor, pytest.raises(DeliveryAbandoned):
            processor.run(idle_timeout=WAIT)
        assert plan.failures >= 2
        assert committed_total(real, settings.group_id, topics.transactions) == 0
        # The next processor of the group does the whole batch again: nothing was lost.
        with Processor(real, engine, settings, topics=topics) as healthy:
            assert healthy.run(max_events=100, idle_timeout=WAIT) == 100
        outputs = event_ids(read_topic(real, topics.processed, 100))
        assert sorted(outputs) == sorted(r["event_id"] for r in sent)


def test_cli_produce_replay_and_process(tmp_path: Path, detector_home: Path) -> None:
    from click.testing import CliRunner

    from fraudstream.cli.stream_cmds import process, produce

    runner = CliRunner()
    url = f"embedded:{tmp_path / 'log.db'}"
    common = ["--broker", url, "--home", str(detector_home)]
    made = runner.invoke(
        produce,
        [*common, "--rate", "2000/s", "--limit", "50", "--no-bursts", "--seed", "7",
         "--customers", "200"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "produced 50 events (50 truth labels)" in made.output
    events = tmp_path / "events.jsonl"
    with open_transport(url) as transport:
        sent = [orjson.loads(m.value) for m in read_topic(transport, "transactions", 50)]
    lines = [orjson.dumps({**r, "event_id": f"replayed-{i}"}) for i, r in enumerate(sent[:10])]
    events.write_bytes(b"\n".join([*lines, b"{not json"]) + b"\n")
    replayed = runner.invoke(produce, [*common, "--replay", str(events)])
    assert replayed.exit_code == 0, replayed.output
    assert "produced 11 events (0 truth labels)" in replayed.output

    done = runner.invoke(
        process, [*common, "--max-events", "61", "--metrics-port", "0", "--log-every", "0"]
    )
    assert done.exit_code == 0, done.output
    assert "processed 61 inputs: 60 decisions, 1 dead letters" in done.output

    missing = runner.invoke(
        process, ["--broker", url, "--home", str(tmp_path / "untrained"), "--max-events", "1"]
    )
    assert missing.exit_code == 2
    assert "train one first" in " ".join(missing.output.split())
