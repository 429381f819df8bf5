"""Writing a batch's outputs and committing its input offsets, at-least-once or exactly-once.

Both strategies share one rule: input offsets are committed only after every output of the
batch is durably written, and a failing downstream (produce or flush raising, the output topic
unavailable, the log locked) is retried with exponential backoff, never skipped. A shutdown
request during retries waits ``grace`` seconds more, then gives up *without committing*: the
batch is consumed again after a restart (:class:`DeliveryAbandoned`).

* :class:`AtLeastOnce` — produce, flush, ``before_commit()`` (the engine's state flush), commit.
  A crash between flush and commit replays the batch: outputs may repeat, none is lost.
  Messages a producer reports as not delivered
  (:class:`~fraudstream.stream.transport.DeliveryFailed`) are produced again.
* :class:`ExactlyOnce` — ``before_commit()``, then one transaction holding the outputs and the
  input offsets (``commit_with_offsets``: one SQLite transaction on the embedded log, a Kafka
  transaction on Kafka). Readers with ``read_committed`` see every output once. After an
  aborted transaction the same outputs are retried for the partitions this member still owns;
  after an error of unknown outcome the producer is re-created (which settles the open
  transaction) and the committed offsets say whether the batch went through.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from fraudstream.stream.metrics import PipelineMetrics
from fraudstream.stream.records import Output
from fraudstream.stream.transport import (
    CommitFailed,
    Consumer,
    DeliveryFailed,
    FatalTransportError,
    Producer,
    TopicPartition,
    TransactionAborted,
    TransactionalProducer,
    Transport,
    TransportClosed,
    TransportError,
    TransportInputError,
)

__all__ = [
    "AtLeastOnce",
    "Backoff",
    "Delivery",
    "DeliveryAbandoned",
    "ExactlyOnce",
    "Retrier",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Errors that retrying cannot fix: a fatal client error (a fenced zombie among them), a
#: closed client, a bad configuration.
FATAL_ERRORS: tuple[type[BaseException], ...] = (
    FatalTransportError,
    TransportClosed,
    TransportInputError,
)


class DeliveryAbandoned(TransportError):
    """Shutdown was requested while a step kept failing: the batch was NOT committed."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: ``initial``, doubling (``factor``) up to ``maximum`` seconds."""

    initial: float = 0.05
    maximum: float = 5.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.maximum, self.initial * self.factor ** max(attempt - 1, 0)))


@dataclass
class Retrier:
    """Runs a step until it succeeds, backing off between failures (see the module docs)."""

    backoff: Backoff = field(default_factory=Backoff)
    metrics: PipelineMetrics | None = None
    stop: threading.Event | None = None
    grace: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    #: Called as ``observer(step, error, attempt)`` on every failure that will be retried.
    observer: Callable[[str, BaseException, int], None] | None = None

    def run(
        self,
        step: str,
        fn: Callable[[], _T],
        *,
        retriable: tuple[type[BaseException], ...] = (TransportError,),
        fatal: tuple[type[BaseException], ...] = (),
        on_failure: Callable[[BaseException, int], None] | None = None,
    ) -> _T:
        """``fn()``; on a ``retriable`` error (not in ``fatal`` nor :data:`FATAL_ERRORS`) call
        ``on_failure(error, attempt)``, wait, retry."""
        attempt = 0
        stop_seen: float | None = None
        stop_fatal = FATAL_ERRORS + fatal
        while True:
            try:
                return fn()
            except stop_fatal:
                raise
            except retriable as exc:
                attempt += 1
                self.failed(step, exc, attempt)
                if on_failure is not None:
                    on_failure(exc, attempt)
                stop_seen = self.wait(step, attempt, stop_seen)

    def failed(self, step: str, exc: BaseException, attempt: int) -> None:
        if self.metrics is not None:
            self.metrics.retried(step)
        if self.observer is not None:
            self.observer(step, exc, attempt)
        delay = self.backoff.delay(attempt)
        log.warning("%s failed (attempt %d), retrying in %.2fs: %s", step, attempt, delay, exc)

    def wait(self, step: str, attempt: int, stop_seen: float | None) -> float | None:
        """Sleep the backoff; raise DeliveryAbandoned once a stop request is ``grace`` old."""
        if self.stop is not None and self.stop.is_set():
            now = self.clock()
            stop_seen = now if stop_seen is None else stop_seen
            if now - stop_seen >= self.grace:
                raise DeliveryAbandoned(
                    f"gave up on {step} after {attempt} attempts: shutting down; the batch was"
                    " not committed and will be processed again after a restart"
                )
        self.sleep(self.backoff.delay(attempt))
        return stop_seen


@dataclass(frozen=True, slots=True)
class Delivered:
    """What one delivery wrote: the outputs (fewer than given if partitions were lost)."""

    outputs: Sequence[Output]
    committed: bool


class Delivery(ABC):
    """Writes a batch's outputs and commits its input offsets."""

    @abstractmethod
    def deliver(
        self,
        consumer: Consumer,
        outputs: Sequence[Output],
        offsets: Mapping[TopicPartition, int],
        before_commit: Callable[[], None],
    ) -> Delivered: ...

    @abstractmethod
    def close(self) -> None: ...


def _owned(
    consumer: Consumer, outputs: Sequence[Output], offsets: Mapping[TopicPartition, int]
) -> tuple[list[Output], dict[TopicPartition, int]]:
    """Outputs and offsets of the partitions ``consumer`` still owns."""
    assigned = consumer.assignment()
    lost = {tp for tp in offsets if tp not in assigned}
    if lost:
        log.warning(
            "partitions %s were reassigned mid-batch; their inputs will be processed by the new"
            " owner",
            sorted(f"{tp.topic}[{tp.partition}]" for tp in lost),
        )
    return (
        [o for o in outputs if o.source not in lost],
        {tp: off for tp, off in offsets.items() if tp not in lost},
    )


class AtLeastOnce(Delivery):
    """Produce -> flush -> ``before_commit`` -> commit (see the module docs).

    With ``lazy`` the producer is opened with the first output (consumers that rarely write,
    such as the alert and sink loops with their dead letters, then never hold one idle).
    """

    #: After this many failed attempts the producer is replaced by a new one.
    RESET_AFTER = 3

    def __init__(
        self,
        transport: Transport,
        retrier: Retrier,
        *,
        flush_timeout: float = 30.0,
        lazy: bool = False,
    ) -> None:
        self._transport = transport
        self._retrier = retrier
        self._flush_timeout = flush_timeout
        self._producer: Producer | None = None if lazy else transport.producer()

    def deliver(
        self,
        consumer: Consumer,
        outputs: Sequence[Output],
        offsets: Mapping[TopicPartition, int],
        before_commit: Callable[[], None],
    ) -> Delivered:
        self._write(outputs)
        self._retrier.run("state flush", before_commit, retriable=(Exception,))
        return Delivered(outputs, self._commit(consumer, offsets))

    def _write(self, outputs: Sequence[Output]) -> None:
        """Produce and flush every output, re-producing whatever may have been dropped."""
        if not outputs and self._producer is None:
            return
        done = 0  # outputs handed to the current producer

        def attempt() -> None:
            nonlocal done
            if self._producer is None:
                self._producer = self._transport.producer()
            producer = self._producer
            while done < len(outputs):
                out = outputs[done]
                producer.produce(out.topic, out.value, key=out.key, headers=out.headers)
                done += 1
            producer.flush(self._flush_timeout)

        def failed(exc: BaseException, attempts: int) -> None:
            nonlocal done
            if isinstance(exc, DeliveryFailed):
                done = 0  # some were dropped and we cannot tell which: all again
            if attempts % self.RESET_AFTER == 0:
                self._reset_producer()
                done = 0

        self._retrier.run("produce", attempt, on_failure=failed)

    def _reset_producer(self) -> None:
        log.warning("replacing the output producer after repeated failures")
        old, self._producer = self._producer, None
        try:
            if old is not None:
                old.close()
        except Exception as exc:  # its queued messages are produced again on the new one
            log.warning("closing the failed producer: %s", exc)
        self._producer = self._transport.producer()

    def _commit(self, consumer: Consumer, offsets: Mapping[TopicPartition, int]) -> bool:
        def commit() -> bool:
            _, owned = _owned(consumer, (), offsets)
            if not owned:
                return False
            try:
                consumer.commit(owned)
            except CommitFailed as exc:
                log.warning("offsets not committed (%s); the new owner redoes those inputs", exc)
                return False
            return True

        return self._retrier.run("commit", commit)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()


class ExactlyOnce(Delivery):
    """``before_commit`` -> one transaction with outputs and offsets (see the module docs)."""

    def __init__(self, transport: Transport, retrier: Retrier, transactional_id: str) -> None:
        self._transport = transport
        self._retrier = retrier
        self.transactional_id = transactional_id
        self._producer: TransactionalProducer | None = transport.transactional_producer(
            transactional_id
        )

    def deliver(
        self,
        consumer: Consumer,
        outputs: Sequence[Output],
        offsets: Mapping[TopicPartition, int],
        before_commit: Callable[[], None],
    ) -> Delivered:
        self._retrier.run("state flush", before_commit, retriable=(Exception,))
        pending = list(outputs)
        pending_offsets = dict(offsets)
        attempt = 0
        stop_seen: float | None = None
        while True:
            try:
                self._transact(consumer, pending, pending_offsets)
                return Delivered(pending, True)
            except FATAL_ERRORS:
                raise
            except TransactionAborted as exc:  # nothing was written
                failure: TransportError = exc
                self._abort_quietly()
                pending, pending_offsets = _owned(consumer, pending, pending_offsets)
                if not pending_offsets:
                    return Delivered([], False)
            except TransportError as exc:  # outcome unknown
                failure = exc
                self._settle()
                if self._went_through(consumer, pending_offsets):
                    return Delivered(pending, True)
            attempt += 1
            self._retrier.failed("transaction", failure, attempt)
            stop_seen = self._retrier.wait("transaction", attempt, stop_seen)

    def _transact(
        self, consumer: Consumer, outputs: Sequence[Output], offsets: Mapping[TopicPartition, int]
    ) -> None:
        if self._producer is None:
            self._producer = self._transport.transactional_producer(self.transactional_id)
        txp = self._producer
        txp.begin()
        for out in outputs:
            txp.produce(out.topic, out.value, key=out.key, headers=out.headers)
        txp.commit_with_offsets(consumer, offsets)

    def _abort_quietly(self) -> None:
        if self._producer is None:
            return
        try:
            self._producer.abort()
        except TransportError as exc:
            log.warning("abort failed: %s", exc)

    def _settle(self) -> None:
        """After an error of unknown outcome: abort the open transaction if we can, else drop
        the producer; the next attempt opens a new one with the same transactional id, which
        fences the old one and settles its transaction."""
        txp = self._producer
        if txp is None:
            return
        if txp.in_transaction:
            try:
                txp.abort()
                return
            except FatalTransportError:
                raise
            except TransportError as exc:
                log.warning("abort failed (%s); re-creating the transactional producer", exc)
        try:
            txp.close()
        except Exception as exc:
            log.warning("closing the transactional producer: %s", exc)
        self._producer = None

    @staticmethod
    def _went_through(consumer: Consumer, offsets: Mapping[TopicPartition, int]) -> bool:
        """Whether the group's committed offsets already cover the batch."""
        if not offsets:
            return False
        try:
            committed = consumer.committed()
        except TransportError:
            return False
        return all(committed.get(tp, -1) >= off for tp, off in offsets.items())

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
