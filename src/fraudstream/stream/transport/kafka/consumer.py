"""The Kafka consumer: a group member with explicit, synchronous commits.

``poll`` waits only for the first message (librdkafka's ``consume`` would wait for a full
batch). Commits check the assignment first and map rebalance errors to :class:`CommitFailed`.
Fatal client errors, returned by a call or reported in the background, raise
:class:`FatalTransportError` (see :mod:`.errors`); the rest stay retriable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from confluent_kafka import Consumer as KConsumer
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as KTopicPartition

from fraudstream.stream.transport.base import (
    Consumer,
    Lag,
    Message,
    OffsetsLike,
    TopicPartition,
    group_lag,
    normalize_offsets,
    validate_max_messages,
    validate_seek,
)
from fraudstream.stream.transport.errors import CommitFailed, TransportClosed
from fraudstream.stream.transport.kafka.errors import (
    REBALANCE_CODES,
    FatalLatch,
    classify,
    describe,
    is_fatal,
    kafka_error,
)
from fraudstream.stream.transport.kafka.messages import from_kafka

if TYPE_CHECKING:
    from fraudstream.stream.transport.kafka.transport import KafkaTransport

__all__ = ["KafkaConsumer"]

log = logging.getLogger(__name__)


class KafkaConsumer(Consumer):
    def __init__(
        self,
        transport: KafkaTransport,
        group_id: str,
        topics: tuple[str, ...],
        *,
        from_beginning: bool,
    ) -> None:
        self.group_id = group_id
        self.topics = topics
        self._transport = transport
        self._from_beginning = from_beginning
        self._fatal = FatalLatch()
        conf = transport.client_config(
            "consumer",
            {
                "auto.offset.reset": "earliest" if from_beginning else "latest",
                "isolation.level": "read_committed",
            },
            error_cb=self._fatal,
        )
        conf.update({"group.id": group_id, "enable.auto.commit": False})
        try:
            self._consumer = KConsumer(conf)
            self._consumer.subscribe(list(topics))
        except KafkaException as exc:
            raise transport.config_error("consumer", exc) from None
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise TransportClosed("the consumer is closed")

    def poll(self, max_messages: int = 500, timeout: float = 1.0) -> list[Message]:
        self._check_open()
        validate_max_messages(max_messages)
        self._fatal.check("poll")
        # librdkafka's consume() waits until it has ``num_messages`` or the timeout passed; the
        # contract is to wait only for the first message. So: take what is there; if nothing
        # is, wait for one message, then take whatever else is there by then.
        consume = self._consumer.consume
        try:
            raw = consume(num_messages=max_messages, timeout=0)
            if not raw and timeout > 0:
                raw = consume(num_messages=1, timeout=timeout)
                if raw and max_messages > 1:
                    raw += consume(num_messages=max_messages - 1, timeout=0)
        except KafkaException as exc:
            raise classify("poll failed", exc) from exc
        out: list[Message] = []
        for msg in raw:
            err = msg.error()
            if err is None:
                out.append(from_kafka(msg))
            elif err.code() == KafkaError._PARTITION_EOF:
                continue
            elif is_fatal(err):
                self._fatal(err)
                raise classify(f"consumer of group {self.group_id!r} failed", err)
            else:
                log.warning("consumer %s: %s: %s", self.group_id, err.name(), err.str())
        return out

    def _all_partitions(self) -> list[TopicPartition]:
        return [
            TopicPartition(topic, part)
            for topic in self.topics
            for part in range(self._transport.partitions_for(topic))
        ]

    def check_assigned(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Raise :class:`CommitFailed` unless every partition of ``offsets`` is assigned."""
        assigned = self.assignment()
        for tp in offsets:
            if tp not in assigned:
                raise CommitFailed(
                    f"partition {tp.topic}[{tp.partition}] is not assigned to this consumer of"
                    f" group {self.group_id!r} any more"
                )

    def commit(self, offsets: OffsetsLike | None = None) -> None:
        self._check_open()
        wanted = self.position() if offsets is None else normalize_offsets(offsets)
        if not wanted:
            return
        self.check_assigned(wanted)
        request = [KTopicPartition(tp.topic, tp.partition, off) for tp, off in wanted.items()]
        try:
            result = self._consumer.commit(offsets=request, asynchronous=False)
        except KafkaException as exc:
            err = kafka_error(exc)
            if not is_fatal(err) and err is not None and err.code() in REBALANCE_CODES:
                raise CommitFailed(f"commit failed during a rebalance: {describe(exc)}") from exc
            raise classify("commit failed", exc) from exc
        for tp in result or []:
            if tp.error is not None:
                raise CommitFailed(
                    f"commit of {tp.topic}[{tp.partition}] failed: {tp.error.name()}"
                )

    def seek(self, partition: TopicPartition | tuple[str, int], offset: int) -> None:
        self._check_open()
        tp = validate_seek(partition, offset, self.assignment())
        deadline = time.monotonic() + self._transport.timeout
        while True:
            try:
                self._consumer.seek(KTopicPartition(tp.topic, tp.partition, offset))
                return
            except KafkaException as exc:
                # Right after assignment the fetcher may not be ready yet (_STATE).
                err = kafka_error(exc)
                if err is None or err.code() != KafkaError._STATE or time.monotonic() > deadline:
                    raise classify("seek failed", exc) from exc
                self._consumer.consume(num_messages=1, timeout=0)  # serve the assignment
                time.sleep(0.01)

    def group_metadata(self) -> object:
        """The group's metadata, for ``send_offsets_to_transaction``."""
        return self._consumer.consumer_group_metadata()

    def assignment(self) -> frozenset[TopicPartition]:
        self._check_open()
        return frozenset(
            TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()
        )

    def position(self) -> dict[TopicPartition, int]:
        self._check_open()
        assigned = self._consumer.assignment()
        if not assigned:
            return {}
        out = {
            TopicPartition(tp.topic, tp.partition): tp.offset
            for tp in self._consumer.position(assigned)
            if tp.offset >= 0
        }
        if len(out) < len(assigned):
            committed = self.committed()
            for tp in assigned:
                key = TopicPartition(tp.topic, tp.partition)
                if key not in out and key in committed:
                    out[key] = committed[key]
        return out

    def committed(self) -> dict[TopicPartition, int]:
        self._check_open()
        request = [KTopicPartition(tp.topic, tp.partition) for tp in self._all_partitions()]
        try:
            result = self._consumer.committed(request, timeout=self._transport.timeout)
        except KafkaException as exc:
            raise classify("cannot read committed offsets", exc) from exc
        return {
            TopicPartition(tp.topic, tp.partition): tp.offset for tp in result if tp.offset >= 0
        }

    def lag(self) -> Lag:
        return group_lag(
            self.topics,
            self.committed(),
            self._transport.watermarks,
            from_beginning=self._from_beginning,
        )

    def close(self) -> None:
        """Leave the group (the other members get its partitions after a rebalance)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._consumer.close()
        except KafkaException as exc:  # pragma: no cover - depends on the broker
            log.warning("consumer %s close: %s", self.group_id, describe(exc))
