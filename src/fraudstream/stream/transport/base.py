"""The transport contract: keyed byte messages in named, partitioned topics.

A transport is the event log of the live pipeline. :class:`Transport` is implemented by
:class:`~fraudstream.stream.transport.embedded.EmbeddedTransport` (one SQLite file, no server)
and :class:`~fraudstream.stream.transport.kafka.KafkaTransport` (confluent-kafka). Both follow
Kafka's semantics so code written against this module runs unchanged on either:

* a topic has a fixed number of partitions; a message with a key goes to partition
  ``murmur2(key) % partitions`` (Kafka's default partitioner, see :func:`partition_for_key`), so
  the same key lands on the same partition number on both transports and keeps its order;
* offsets are per partition; an *offset to commit* is the offset of the next message to read
  (last processed offset + 1), as in Kafka;
* consumers in one group split the partitions of their topics between them; a partition is read
  by one member at a time; committed offsets outlive the consumers;
* delivery is at-least-once; :class:`TransactionalProducer` gives exactly-once
  read-process-write by committing outputs and input offsets atomically.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import NamedTuple, Self

from fraudstream.stream.transport.errors import (
    ProducerFenced,
    TransportClosed,
    TransportError,
    TransportInputError,
)

__all__ = [
    "Consumer",
    "HeadersLike",
    "Lag",
    "Message",
    "OffsetsLike",
    "Producer",
    "TopicPartition",
    "TransactionalProducer",
    "Transport",
    "group_lag",
    "murmur2",
    "normalize_headers",
    "normalize_offsets",
    "partition_for_key",
    "validate_max_messages",
    "validate_seek",
    "validate_subscription",
    "validate_topic_name",
    "validate_transactional_id",
]

Headers = tuple[tuple[str, bytes], ...]
HeadersLike = Mapping[str, bytes | str] | Sequence[tuple[str, bytes | str]] | None


class TopicPartition(NamedTuple):
    """A partition of a topic. A plain ``(topic, partition)`` tuple compares equal to it."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Message:
    """One record read from a topic.

    ``timestamp_ms`` is the producer's creation time in milliseconds since the epoch (UTC).
    ``key`` is ``None`` for an unkeyed message.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers = ()
    timestamp_ms: int = 0

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    def header(self, name: str) -> bytes | None:
        """The last value of header ``name``, or ``None``."""
        for key, value in reversed(self.headers):
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Lag:
    """How far a consumer group is behind: end offset minus committed offset.

    ``partitions`` covers every partition of the consumer's topics. A partition with no committed
    offset counts from the start of the log when the consumer reads ``from_beginning``, else as 0.
    """

    total: int
    partitions: Mapping[TopicPartition, int] = field(default_factory=dict)


OffsetsLike = Mapping[TopicPartition, int] | Mapping[tuple[str, int], int] | Iterable[Message]


# --------------------------------------------------------------------------- partitioning


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (``org.apache.kafka.common.utils.Utils.murmur2``), signed 32-bit."""
    length = len(data)
    m = 0x5BD1E995
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    end = length - (length & 3)
    for i in range(0, end, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[end + 2] << 16
    if rest >= 2:
        h ^= data[end + 1] << 8
    if rest >= 1:
        h ^= data[end]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - 0x100000000 if h & 0x80000000 else h


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java client, librdkafka ``murmur2_random``)
    picks for ``key``: ``(murmur2(key) & 0x7fffffff) % partitions``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


# --------------------------------------------------------------------------- validation helpers

_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def validate_topic_name(name: str) -> str:
    """Return ``name`` if Kafka accepts it as a topic name, else raise TransportInputError."""
    if not isinstance(name, str) or not _TOPIC_RE.match(name) or name in {".", ".."}:
        raise TransportInputError(
            f"invalid topic name {name!r}: use 1-249 characters from [A-Za-z0-9._-]",
            [("topic", "invalid name")],
        )
    return name


def validate_partitions(partitions: int) -> int:
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise TransportInputError(
            f"partitions must be a positive integer, got {partitions!r}",
            [("partitions", "must be >= 1")],
        )
    return partitions


def to_bytes(data: bytes | bytearray | memoryview | str, what: str) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise TransportInputError(f"{what} must be bytes or str, got {type(data).__name__}")


def normalize_headers(headers: HeadersLike) -> Headers:
    """Headers as a tuple of ``(name, bytes)`` pairs (order and duplicates kept)."""
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: list[tuple[str, bytes]] = []
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise TransportInputError(
                "headers must be a mapping or a sequence of (name, value) pairs"
            ) from None
        if not isinstance(name, str):
            raise TransportInputError(f"header name must be str, got {type(name).__name__}")
        out.append((name, b"" if value is None else to_bytes(value, f"header {name!r}")))
    return tuple(out)


def normalize_offsets(offsets: OffsetsLike) -> dict[TopicPartition, int]:
    """Offsets to commit, keyed by partition.

    A mapping is taken as it is (values are the next offsets to read). Messages commit the offset
    after the highest message of each partition.
    """
    out: dict[TopicPartition, int] = {}
    if isinstance(offsets, Mapping):
        for tp, offset in offsets.items():
            try:
                topic, partition = tp
            except (TypeError, ValueError):
                raise TransportInputError(
                    f"offset keys must be (topic, partition) pairs, got {tp!r}"
                ) from None
            if (
                not isinstance(topic, str)
                or isinstance(partition, bool)
                or not isinstance(partition, int)
                or isinstance(offset, bool)
                or not isinstance(offset, int)
                or offset < 0
                or partition < 0
            ):
                raise TransportInputError(
                    f"invalid offset {offset!r} for {tp!r}: need (str, int >= 0) -> int >= 0"
                )
            out[TopicPartition(topic, partition)] = offset
        return out
    for message in offsets:
        if not isinstance(message, Message):
            raise TransportInputError(
                f"offsets must be a mapping or Messages, got {type(message).__name__}"
            )
        tp = TopicPartition(message.topic, message.partition)
        out[tp] = max(out.get(tp, 0), message.offset + 1)
    return out


def validate_subscription(group_id: str, topics: Iterable[str]) -> tuple[str, ...]:
    """The topics of a new consumer, deduplicated in order; checks the group id too."""
    if not group_id or not isinstance(group_id, str):
        raise TransportInputError("group_id must be a non-empty string")
    names = tuple(dict.fromkeys(topics))
    if not names:
        raise TransportInputError("a consumer needs at least one topic")
    return names


def validate_transactional_id(transactional_id: str) -> str:
    if not transactional_id or not isinstance(transactional_id, str):
        raise TransportInputError("transactional_id must be a non-empty string")
    return transactional_id


def validate_seek(
    partition: TopicPartition | tuple[str, int], offset: int, assigned: Collection[TopicPartition]
) -> TopicPartition:
    """The partition to seek, once it is assigned and ``offset`` is a valid offset."""
    tp = TopicPartition(*partition)
    if tp not in assigned:
        raise TransportInputError(f"{tp.topic}[{tp.partition}] is not assigned to this consumer")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise TransportInputError(f"offset must be an int >= 0, got {offset!r}")
    return tp


def validate_max_messages(max_messages: int) -> int:
    if max_messages < 1:
        raise TransportInputError("max_messages must be >= 1")
    return max_messages


def group_lag(
    topics: Iterable[str],
    committed: Mapping[TopicPartition, int],
    watermarks: Callable[[str], Mapping[int, tuple[int, int]]],
    *,
    from_beginning: bool,
) -> Lag:
    """:class:`Lag` from committed offsets and each partition's ``(low, high)`` watermarks."""
    per: dict[TopicPartition, int] = {}
    for topic in topics:
        for part, (low, high) in watermarks(topic).items():
            tp = TopicPartition(topic, part)
            base = committed.get(tp, low if from_beginning else high)
            per[tp] = max(high - base, 0)
    return Lag(sum(per.values()), per)


# --------------------------------------------------------------------------- the contract


class _Closeable(ABC):
    @abstractmethod
    def close(self) -> None:
        """Release resources. Safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Producer(_Closeable):
    """Writes messages. Not thread-safe; one per thread."""

    @abstractmethod
    def produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None = None,
        headers: HeadersLike = None,
    ) -> None:
        """Queue a message. It goes to ``partition_for_key(key, n)``; unkeyed messages are spread
        over the partitions. Delivery is asynchronous: call :meth:`flush` to wait for it."""

    @abstractmethod
    def flush(self, timeout: float | None = None) -> None:
        """Block until every queued message is durably written.

        Raises :class:`DeliveryFailed` when some could not be (they are dropped) and
        :class:`TransportError` when ``timeout`` seconds pass first (they stay queued).
        """

    def close(self) -> None:
        """Flush, then release resources."""


class Consumer(_Closeable):
    """Reads the partitions assigned to it within its group. Not thread-safe."""

    group_id: str
    topics: tuple[str, ...]

    @abstractmethod
    def poll(self, max_messages: int = 500, timeout: float = 1.0) -> list[Message]:
        """Up to ``max_messages`` messages, waiting at most ``timeout`` seconds for the first one.

        Also takes part in the group (heartbeats, rebalances): call it regularly.
        Messages of one partition come in offset order.
        """

    @abstractmethod
    def commit(self, offsets: OffsetsLike | None = None) -> None:
        """Synchronously commit offsets: a mapping of next offsets to read, or the processed
        messages, or ``None`` for the current position of every assigned partition.

        Raises :class:`CommitFailed` (nothing committed) when a partition is not assigned to
        this consumer any more.
        """

    @abstractmethod
    def seek(self, partition: TopicPartition | tuple[str, int], offset: int) -> None:
        """Read an assigned partition from ``offset`` on."""

    @abstractmethod
    def assignment(self) -> frozenset[TopicPartition]:
        """The partitions this consumer currently owns."""

    @abstractmethod
    def position(self) -> dict[TopicPartition, int]:
        """The next offset :meth:`poll` returns, for each assigned partition where it is known."""

    @abstractmethod
    def committed(self) -> dict[TopicPartition, int]:
        """The group's committed offset of every partition of the consumer's topics that has one."""

    @abstractmethod
    def lag(self) -> Lag:
        """The group's lag on the consumer's topics (see :class:`Lag`)."""


class TransactionalProducer(_Closeable):
    """Exactly-once read-process-write: outputs and input offsets become visible atomically.

    ::

        txp.begin()
        for message in batch:
            txp.produce("out", process(message))
        txp.commit_with_offsets(consumer, batch)   # outputs + consumer offsets, atomically

    Only one producer per ``transactional_id`` can work at a time: opening a new one fences
    the older (its commits raise :class:`ProducerFenced`). On :class:`TransactionAborted` nothing
    was written; rewind the consumer (``seek`` to the committed offsets) and redo the work.
    """

    transactional_id: str

    @property
    @abstractmethod
    def in_transaction(self) -> bool: ...

    def _check_state(
        self, *, closed: bool, fenced: bool, want_open: bool, broken: str | None = None
    ) -> None:
        """Raise unless this producer can take the next step (for implementations)."""
        if closed:
            raise TransportClosed("the transactional producer is closed")
        if fenced:
            raise ProducerFenced(f"transactional id {self.transactional_id!r} was fenced")
        if broken is not None:
            raise TransportError(f"transactional producer unusable: {broken}")
        if want_open and not self.in_transaction:
            raise TransportError("no transaction is open: call begin() first")
        if not want_open and self.in_transaction:
            raise TransportError("a transaction is already open")

    @abstractmethod
    def begin(self) -> None:
        """Start a transaction."""

    @abstractmethod
    def produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None = None,
        headers: HeadersLike = None,
    ) -> None:
        """Add a message to the open transaction (invisible until commit)."""

    @abstractmethod
    def commit_with_offsets(self, consumer: Consumer, offsets: OffsetsLike) -> None:
        """Commit the transaction's messages and ``consumer``'s group offsets atomically."""

    @abstractmethod
    def commit(self) -> None:
        """Commit the transaction's messages (no offsets)."""

    @abstractmethod
    def abort(self) -> None:
        """Discard the open transaction: its messages are never seen by read_committed readers."""


class Transport(_Closeable):
    """An event log: topics, producers, consumer groups. Thread-safe to share."""

    @abstractmethod
    def create_topics(self, names: Iterable[str], partitions: int = 1) -> None:
        """Create topics with ``partitions`` partitions; topics that exist are left as they are."""

    @abstractmethod
    def partitions_for(self, topic: str) -> int:
        """The topic's partition count; raises :class:`UnknownTopic`."""

    @abstractmethod
    def producer(self) -> Producer:
        """A new producer."""

    @abstractmethod
    def transactional_producer(self, transactional_id: str) -> TransactionalProducer:
        """A new transactional producer; fences older ones with the same id."""

    @abstractmethod
    def consumer(
        self, group_id: str, topics: Iterable[str], *, from_beginning: bool = True
    ) -> Consumer:
        """A new member of consumer group ``group_id`` subscribed to ``topics``.

        Without a committed offset it starts at the beginning of a partition
        (``from_beginning``) or at its end. It only sees committed transactions.
        """

    @abstractmethod
    def end_offsets(self, topic: str) -> dict[int, int]:
        """Partition -> offset after the last message (Kafka's high watermark)."""

    def committed_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        """Partition -> group ``group_id``'s committed offset on ``topic``, where it has one.

        Reads without joining the group (tools use it beside running members)."""
        raise TransportError(f"{type(self).__name__} cannot read a group's committed offsets")

    @abstractmethod
    def redacted(self) -> str:
        """A description safe to log (no secrets)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.redacted()})"
