"""One batch-consume-commit loop for the consumers downstream of the processor.

The alert consumer and the sink consumer both read ``processed_transactions`` in a group of
their own and do the same thing with it: poll -> buffer until ``batch_size`` records or the
oldest is ``max_delay`` seconds old -> hand the batch to a handler -> dead-letter what the
handler rejected -> commit the offsets of the partitions still owned. :class:`BatchLoop` is
that loop, so both get the processor's guarantees from one place:

* offsets never pass a batch the handler has not finished, nor its unwritten dead letters
  (:class:`~fraudstream.stream.delivery.AtLeastOnce`), so a crash replays at most the
  uncommitted batch: handlers must be idempotent (the alert ledger and the decision stores are);
* a failing downstream (the handler raising one of ``retriable``, the log unavailable) is
  retried with backoff, never skipped; after a stop request it is retried ``stop_grace``
  seconds more, then the loop gives up *without committing*
  (:class:`~fraudstream.stream.delivery.DeliveryAbandoned`, logged; ``run`` returns);
* a fatal transport error (:class:`~fraudstream.stream.transport.FatalTransportError`) is never
  retried: it ends ``run`` so the command exits non-zero;
* every retried failure is reported to ``on_error(step, error, attempt)`` (counters, alarms).

Rejected records go to ``settings.dlq`` (with the processor's ``dlq.*`` headers, so
``fraudstream dlq`` lists and replays them) or, without a DLQ topic, are logged and skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from fraudstream.errors import InvalidInput
from fraudstream.stream.delivery import AtLeastOnce, Backoff, DeliveryAbandoned, Retrier
from fraudstream.stream.records import DeadLetterKind, dead_letter
from fraudstream.stream.transport import Consumer, FatalTransportError, Message, Transport
from fraudstream.stream.transport.base import normalize_offsets, validate_topic_name

__all__ = ["BatchLoop", "ErrorCallback", "Handler", "LoopSettings", "Rejected"]

log = logging.getLogger(__name__)

#: The name of the handler step in retries and ``on_error`` calls.
HANDLE: Final = "handle"


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record the handler cannot use (never retried: dead-lettered or skipped)."""

    message: Message
    reason: str
    kind: DeadLetterKind = DeadLetterKind.INVALID


#: Takes a batch, returns what it rejected. Retried whole while it raises a retriable error.
Handler = Callable[[Sequence[Message]], Sequence[Rejected]]
ErrorCallback = Callable[[str, BaseException, int], None]


@dataclass(frozen=True, slots=True)
class LoopSettings:
    """How a :class:`BatchLoop` batches, retries and stops. ``max_delay=0`` handles each poll's
    messages at once."""

    group_id: str
    batch_size: int = 500
    max_delay: float = 0.0
    poll_timeout: float = 0.2
    retry_initial: float = 0.1
    retry_max: float = 10.0
    stop_grace: float = 30.0
    dlq: str | None = None
    dlq_max_bytes: int = 512 * 1024
    flush_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidInput("batch_size must be >= 1", [("batch_size", "must be >= 1")])
        if self.max_delay < 0 or self.poll_timeout < 0 or self.stop_grace < 0:
            raise InvalidInput("max_delay, poll_timeout and stop_grace must be >= 0")
        if self.dlq is not None:
            validate_topic_name(self.dlq)


class BatchLoop:
    """The loop (see the module docs). Not thread-safe, except :meth:`stop`, which any thread
    or signal handler may call.

    ``housekeeping()`` runs after every step of :meth:`run` (periodic summaries);
    ``stop_event`` lets an owner that builds the loop late share its stop flag.
    """

    def __init__(
        self,
        transport: Transport,
        topics: Sequence[str],
        handle: Handler,
        settings: LoopSettings,
        *,
        name: str,
        retriable: tuple[type[BaseException], ...] = (),
        on_error: ErrorCallback | None = None,
        housekeeping: Callable[[], None] | None = None,
        stop_event: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.transport = transport
        self.topics = tuple(topics)
        self.settings = settings
        self.name = name
        self.stop_event = stop_event or threading.Event()
        self._handle = handle
        self._housekeeping = housekeeping
        self._retriable = retriable
        self._clock = clock
        s = settings
        self.retrier = Retrier(
            Backoff(s.retry_initial, s.retry_max),
            None,
            self.stop_event,
            s.stop_grace,
            sleep,
            observer=on_error,
        )
        self.consumer: Consumer | None = None
        self._delivery: AtLeastOnce | None = None
        self._buffer: list[Message] = []
        self._first_buffered = 0.0
        self.consumed = 0
        self.dead_letters = 0

    # -- lifecycle

    def open(self) -> Consumer:
        """Join the group (``run`` and ``step`` do it when needed)."""
        if self.consumer is None:
            self.consumer = self.transport.consumer(self.settings.group_id, self.topics)
            self._delivery = AtLeastOnce(
                self.transport,
                self.retrier,
                flush_timeout=self.settings.flush_timeout,
                lazy=True,
            )
        return self.consumer

    def stop(self) -> None:
        """Ask :meth:`run` to finish the batch in hand and return."""
        self.stop_event.set()

    def close(self) -> None:
        """Leave the group; buffered, unhandled records are read again by the next member."""
        delivery, self._delivery = self._delivery, None
        consumer, self.consumer = self.consumer, None
        try:
            if delivery is not None:
                delivery.close()
        finally:
            if consumer is not None:
                consumer.close()
            self._buffer.clear()

    # -- the loop

    def run(self, *, max_records: int | None = None, idle_timeout: float | None = None) -> int:
        """Consume until :meth:`stop`, ``max_records`` read, or ``idle_timeout`` seconds without
        input; handles what is buffered before returning. Returns the records consumed."""
        self.open()
        consumed = 0
        idle_since = self._clock()
        try:
            while not self.stop_event.is_set():
                count = self.step()
                consumed += count
                if self._housekeeping is not None:
                    self._housekeeping()
                now = self._clock()
                if count:
                    idle_since = now
                if max_records is not None and consumed >= max_records:
                    break
                if idle_timeout is not None and not count and now - idle_since >= idle_timeout:
                    break
            self.flush()
        except DeliveryAbandoned as exc:
            log.warning("%s: %s", self.name, exc)
        except FatalTransportError as exc:
            log.error("%s stopping on a fatal transport error (not retried): %s", self.name, exc)
            raise
        return consumed

    def step(self) -> int:
        """Poll once; handle and commit the buffer when it is full or old enough."""
        consumer = self.open()
        s = self.settings
        room = max(s.batch_size - len(self._buffer), 1)
        timeout = s.poll_timeout
        if self._buffer:
            timeout = min(timeout, max(self._first_buffered + s.max_delay - self._clock(), 0.0))
        messages = self.retrier.run(
            "poll", lambda: consumer.poll(max_messages=room, timeout=timeout)
        )
        if messages:
            if not self._buffer:
                self._first_buffered = self._clock()
            self._buffer.extend(messages)
            self.consumed += len(messages)
        if self._buffer and (
            len(self._buffer) >= s.batch_size or self._clock() - self._first_buffered >= s.max_delay
        ):
            self.flush()
        return len(messages)

    def flush(self) -> bool:
        """Handle the buffered records (retrying), dead-letter the rejected ones, commit.
        Returns whether there was anything to handle."""
        if not self._buffer or self.consumer is None or self._delivery is None:
            return False
        batch, consumer = self._buffer, self.consumer
        rejected = self.retrier.run(HANDLE, lambda: self._handle(batch), retriable=self._retriable)
        outputs = []
        for bad in rejected:
            m = bad.message
            if self.settings.dlq is None:
                log.warning("%s: skipping %s[%d]@%d: %s", self.name, m.topic, m.partition,
                            m.offset, bad.reason)  # fmt: skip
                continue
            outputs.append(
                dead_letter(
                    self.settings.dlq,
                    m,
                    bad.kind,
                    bad.reason,
                    error=f"{self.name}: rejected",
                    max_bytes=self.settings.dlq_max_bytes,
                )
            )
        self._delivery.deliver(consumer, outputs, normalize_offsets(batch), lambda: None)
        self.dead_letters += len(outputs)
        self._buffer = []
        return True
