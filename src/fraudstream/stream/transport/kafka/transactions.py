"""Kafka transactions: outputs and consumer offsets committed atomically (exactly-once).

Every step (init, begin, send offsets, commit, abort) retries librdkafka's *retriable* errors
until the transport's timeout. A fenced producer raises :class:`ProducerFenced`; another fatal
error raises :class:`FatalTransportError` and leaves the producer unusable. When a step fails
and the abort after it fails too, the outcome is unknown: the caller re-creates the producer
with the same transactional id, which settles the open transaction.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from confluent_kafka import KafkaException
from confluent_kafka import TopicPartition as KTopicPartition

from fraudstream.stream.transport.base import (
    Consumer,
    HeadersLike,
    OffsetsLike,
    TransactionalProducer,
    normalize_offsets,
)
from fraudstream.stream.transport.errors import (
    CommitFailed,
    ProducerFenced,
    TransactionAborted,
    TransportClosed,
    TransportError,
    TransportInputError,
)
from fraudstream.stream.transport.kafka.consumer import KafkaConsumer
from fraudstream.stream.transport.kafka.errors import (
    FENCED_CODES,
    classify,
    describe,
    is_fatal,
    kafka_error,
)
from fraudstream.stream.transport.kafka.producer import ProducerBase

if TYPE_CHECKING:
    from fraudstream.stream.transport.kafka.transport import KafkaTransport

__all__ = ["KafkaTransactionalProducer"]

_T = TypeVar("_T")


class KafkaTransactionalProducer(ProducerBase, TransactionalProducer):
    def __init__(self, transport: KafkaTransport, transactional_id: str) -> None:
        super().__init__(transport, {"transactional.id": transactional_id})
        self.transactional_id = transactional_id
        self._open = False
        self._fenced = False
        self._broken: str | None = None  # why this producer cannot be used any more
        try:
            self._call(lambda: self._producer.init_transactions(transport.timeout), "init")
        except KafkaException as exc:
            raise TransportError(f"init_transactions failed: {describe(exc)}") from exc

    @property
    def in_transaction(self) -> bool:
        return self._open

    def _call(self, fn: Callable[[], _T], step: str) -> _T:
        """Run a transaction step, retrying retriable errors until the timeout."""
        deadline = time.monotonic() + self._transport.timeout
        while True:
            try:
                return fn()
            except KafkaException as exc:
                err = kafka_error(exc)
                if err is None:
                    raise TransportError(f"transaction {step} failed: {exc}") from exc
                if err.code() in FENCED_CODES:
                    self._fenced = True
                    self._open = False
                    raise ProducerFenced(
                        f"transactional id {self.transactional_id!r}: {step} failed:"
                        f" {describe(exc)}"
                    ) from exc
                if is_fatal(err):
                    self._broken = f"fatal error in {step}: {describe(exc)}"
                    self._open = False
                    raise classify(f"transaction {step} failed", exc) from exc
                if err.retriable() and time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise

    def _check(self, *, want_open: bool) -> None:
        self._check_state(
            closed=self._closed, fenced=self._fenced, want_open=want_open, broken=self._broken
        )

    def begin(self) -> None:
        self._check(want_open=False)
        try:
            self._call(self._producer.begin_transaction, "begin")
        except KafkaException as exc:
            raise TransportError(f"begin transaction failed: {describe(exc)}") from exc
        self._failed, self._first_failure = 0, None
        self._open = True

    def produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None = None,
        headers: HeadersLike = None,
    ) -> None:
        self._check(want_open=True)
        self._produce(topic, value, key, headers)

    def _abort_after(self, exc: BaseException, step: str) -> TransportError:
        """Abort after a failed step; the error to raise says whether that worked."""
        try:
            self.abort()
        except TransportError as abort_exc:
            self._broken = f"{step} and abort failed; transaction outcome unknown"
            return TransportError(
                f"transaction {step} failed ({describe(exc)}) and the abort failed too"
                f" ({abort_exc}): the outcome is unknown; close this producer and start a new"
                " one with the same transactional id (that settles the transaction)"
            )
        return TransactionAborted(f"transaction aborted ({step} failed: {describe(exc)})")

    def _finish(self, consumer: Consumer | None, offsets: OffsetsLike | None) -> None:
        self._check(want_open=True)
        timeout = self._transport.timeout
        if consumer is not None:
            if not isinstance(consumer, KafkaConsumer):
                raise TransportInputError("commit_with_offsets needs a KafkaConsumer")
            wanted = normalize_offsets(offsets if offsets is not None else {})
            try:
                consumer.check_assigned(wanted)
            except CommitFailed as exc:
                raise self._abort_after(exc, "offset commit") from exc
            if wanted:
                positions = [KTopicPartition(tp.topic, tp.partition, o) for tp, o in wanted.items()]
                metadata = consumer.group_metadata()
                try:
                    self._call(
                        lambda: self._producer.send_offsets_to_transaction(
                            positions, metadata, timeout
                        ),
                        "send offsets",
                    )
                except KafkaException as exc:
                    raise self._abort_after(exc, "send offsets") from exc
        try:
            self._call(lambda: self._producer.commit_transaction(timeout), "commit")
        except KafkaException as exc:
            raise self._abort_after(exc, "commit") from exc
        self._open = False
        self._failed, self._first_failure = 0, None

    def commit_with_offsets(self, consumer: Consumer, offsets: OffsetsLike) -> None:
        self._finish(consumer, offsets)

    def commit(self) -> None:
        self._finish(None, None)

    def abort(self) -> None:
        if self._closed:
            raise TransportClosed("the transactional producer is closed")
        if not self._open:
            return
        try:
            self._call(lambda: self._producer.abort_transaction(self._transport.timeout), "abort")
        except KafkaException as exc:
            raise TransportError(f"abort failed: {describe(exc)}") from exc
        finally:
            self._open = False
            self._failed, self._first_failure = 0, None

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self._open and not self._fenced and self._broken is None:
                self.abort()
        finally:
            self._closed = True
            with contextlib.suppress(KafkaException):  # a fenced producer raises here
                self._producer.flush(0)
