"""The dead-letter queue after the fact: list dead letters, replay them once the cause is fixed.

Bookkeeping is the committed offset of one consumer group on the DLQ topic
(:data:`REPLAY_GROUP`): a dead letter below it was *handled* (replayed, or dismissed by name),
one at or above it is *pending*. The DLQ topic itself is never rewritten, so nothing is lost,
and the offsets only ever move forward over records that were dealt with, so nothing is
handled twice by design.

:func:`replay` re-publishes each pending dead letter to its source topic
(``dlq.source.topic``) with its original key, value and headers plus
``dlq.replay.of = <dlq>[partition]@offset``, then commits the DLQ offsets: at-least-once, the
same rule as the processor (outputs flushed before offsets, retried with backoff; a crash in
between replays the batch again, and the processor is idempotent by event id). It stops at the
DLQ's end as it was when it started, so a record that fails again and comes back as a new dead
letter (carrying ``dlq.replay.of``) waits for the next replay instead of looping. Dead letters
whose value was cut (``dlq.truncated_from``), that name no source topic, or of a kind given in
``dismiss`` are marked handled without being re-published, and counted.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Final

from fraudstream.stream.delivery import AtLeastOnce, Backoff, Retrier
from fraudstream.stream.records import DLQ_HEADERS, DeadLetter, Output
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport import Consumer, Message, TopicPartition, Transport
from fraudstream.stream.transport.errors import TransportError

__all__ = [
    "REPLAY_GROUP",
    "REPLAY_OF",
    "DlqEntry",
    "ReplayReport",
    "list_dead_letters",
    "replay",
    "replay_output",
]

#: The consumer group whose committed offsets on the DLQ say what was handled.
REPLAY_GROUP: Final = "fraudstream-dlq-replay"
#: Header of a re-published record: the dead letter it came from.
REPLAY_OF: Final = "dlq.replay.of"


@dataclass(frozen=True, slots=True)
class DlqEntry:
    """One dead letter as ``fraudstream dlq list`` shows it."""

    partition: int
    offset: int
    timestamp_ms: int
    letter: DeadLetter
    handled: bool
    replay_of: str | None

    @property
    def where(self) -> str:
        return f"[{self.partition}]@{self.offset}"


@dataclass(slots=True)
class ReplayReport:
    """What one :func:`replay` did."""

    replayed: Counter[str] = field(default_factory=Counter)  # per source topic
    dismissed: Counter[str] = field(default_factory=Counter)  # per reason
    uncommitted: int = 0  # replayed, but the partition moved before the commit (redone later)

    @property
    def total_replayed(self) -> int:
        return sum(self.replayed.values())

    def summary(self) -> str:
        parts = [f"{self.total_replayed} replayed"]
        parts += [f"{n} to {topic}" for topic, n in sorted(self.replayed.items())]
        parts += [f"{n} dismissed ({why})" for why, n in sorted(self.dismissed.items())]
        if self.uncommitted:
            parts.append(f"{self.uncommitted} not committed (partition moved; replayed again)")
        return ", ".join(parts)


def _read_to_end(
    consumer: Consumer, ends: dict[int, int], start: dict[int, int], deadline: float
) -> Iterator[list[Message]]:
    """Batches from ``consumer`` until every partition reached its ``ends`` snapshot (reading
    from ``start``, the group's committed offsets); later records are left alone."""
    done = {p: start.get(p, 0) for p in ends}
    while any(done[p] < end for p, end in ends.items()):
        if time.monotonic() > deadline:
            missing = sorted(p for p, end in ends.items() if done[p] < end)
            raise TransportError(
                f"could not read DLQ partitions {missing} in time (is another replay running?)"
            )
        batch = [
            m for m in consumer.poll(max_messages=500, timeout=0.2) if m.offset < ends[m.partition]
        ]
        for m in batch:
            done[m.partition] = max(done[m.partition], m.offset + 1)
        if batch:
            yield batch


def list_dead_letters(
    transport: Transport,
    topics: Topics | None = None,
    *,
    group: str = REPLAY_GROUP,
    pending_only: bool = False,
    timeout: float = 60.0,
) -> list[DlqEntry]:
    """Every dead letter (or the pending ones), in partition and offset order.

    Reads with a throwaway consumer group that never commits, so it neither moves the
    bookkeeping nor disturbs a replay in progress.
    """
    dlq = (topics or Topics()).dlq
    ends = transport.end_offsets(dlq)
    handled_upto = transport.committed_offsets(group, dlq)
    start = handled_upto if pending_only else {}
    out: list[DlqEntry] = []
    reader = f"fraudstream-dlq-list-{uuid.uuid4().hex[:12]}"
    with transport.consumer(reader, [dlq], from_beginning=True) as consumer:
        for batch in _read_to_end(consumer, ends, {}, time.monotonic() + timeout):
            for m in batch:
                if m.offset < start.get(m.partition, 0):
                    continue
                raw = m.header(REPLAY_OF)
                out.append(
                    DlqEntry(
                        m.partition,
                        m.offset,
                        m.timestamp_ms,
                        DeadLetter.from_message(m),
                        m.offset < handled_upto.get(m.partition, 0),
                        raw.decode("utf-8", "replace") if raw is not None else None,
                    )
                )
    return sorted(out, key=lambda e: (e.partition, e.offset))


def replay_output(message: Message) -> Output | str:
    """The record to re-publish for a dead letter, or why it cannot be replayed."""
    h = DLQ_HEADERS
    if message.header(h.truncated) is not None:
        return "truncated"
    source = (message.header(h.topic) or b"").decode("utf-8", "replace")
    if not source:
        return "no source topic"
    headers = tuple((k, v) for k, v in message.headers if not k.startswith("dlq."))
    where = f"{message.topic}[{message.partition}]@{message.offset}".encode()
    return Output(
        source,
        message.value,
        message.key,
        (*headers, (REPLAY_OF, where)),
        message.topic_partition,
    )


def replay(
    transport: Transport,
    topics: Topics | None = None,
    *,
    group: str = REPLAY_GROUP,
    dismiss: Collection[str] = (),
    limit: int | None = None,
    timeout: float = 120.0,
    retrier: Retrier | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Re-publish the pending dead letters to their source topics (see the module docs)."""
    dlq = (topics or Topics()).dlq
    retrier = retrier or Retrier(Backoff(0.1, 5.0), sleep=sleep)
    report = ReplayReport()
    ends = transport.end_offsets(dlq)
    start = transport.committed_offsets(group, dlq)
    delivery = AtLeastOnce(transport, retrier, lazy=True)
    left = limit
    try:
        with transport.consumer(group, [dlq], from_beginning=True) as consumer:
            for batch in _read_to_end(consumer, ends, start, time.monotonic() + timeout):
                if left is not None:
                    batch = batch[:left]
                    left -= len(batch)
                outputs: list[Output] = []
                offsets: dict[TopicPartition, int] = {}
                dismissed: Counter[str] = Counter()
                for m in batch:
                    offsets[m.topic_partition] = max(
                        offsets.get(m.topic_partition, 0), m.offset + 1
                    )
                    kind = (m.header(DLQ_HEADERS.kind) or b"").decode("utf-8", "replace")
                    out = f"kind {kind}" if kind in dismiss else replay_output(m)
                    if isinstance(out, str):
                        dismissed[out] += 1
                    else:
                        outputs.append(out)
                delivered = delivery.deliver(consumer, outputs, offsets, lambda: None)
                if delivered.committed:
                    report.replayed.update(o.topic for o in delivered.outputs)
                    report.dismissed.update(dismissed)
                    report.uncommitted += len(outputs) - len(delivered.outputs)
                else:
                    report.uncommitted += len(outputs)
                if left is not None and left <= 0:
                    break
    finally:
        delivery.close()
    return report
