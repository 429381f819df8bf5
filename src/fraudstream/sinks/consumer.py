"""The sink consumer: ``processed_transactions`` (+ ``simulator_truth``) -> a decision sink.

It reads in its own consumer group and writes in batches with a bounded delay: a batch is
written once it holds ``batch_size`` records or its oldest record has waited ``max_delay``
seconds. Offsets are committed only after the sink wrote the batch, so a crash at any point
loses nothing: the restart resumes from the committed offsets and re-writes at most the
uncommitted batch, which the sink ignores (ids are ``topic+partition+offset``).

Back-pressure: polling and writing share one thread, so nothing more is read while a write
is in progress or being retried. A sink that is down
(:class:`~fraudstream.sinks.errors.SinkUnavailable`) is retried with exponential backoff,
forever, until it is back or a stop is requested; after a stop request it keeps trying for
``stop_grace`` seconds, then gives up *without committing*.
If the pause outlasts the group's session timeout the partitions may move to another member;
our commit then fails harmlessly and the new owner writes the same records again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from fraudstream.errors import InvalidInput
from fraudstream.sinks.base import DecisionSink, WriteResult
from fraudstream.sinks.errors import SinkUnavailable
from fraudstream.sinks.records import Batch, build_batch
from fraudstream.stream.delivery import Backoff, DeliveryAbandoned, Retrier
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport import (
    CommitFailed,
    Consumer,
    Message,
    TopicPartition,
    Transport,
    TransportError,
    UnknownTopic,
)

__all__ = ["DEFAULT_GROUP", "SinkConsumer", "SinkSettings", "SinkStats"]

log = logging.getLogger(__name__)

DEFAULT_GROUP: Final = "fraudstream-sink"


@dataclass(frozen=True, slots=True)
class SinkSettings:
    """How a sink consumer batches, retries and stops (see the module docs)."""

    group_id: str = DEFAULT_GROUP
    batch_size: int = 500
    max_delay: float = 1.0
    poll_timeout: float = 0.2
    truth: bool = True
    retry_initial: float = 0.1
    retry_max: float = 10.0
    stop_grace: float = 30.0
    summary_every: float = 30.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidInput("batch_size must be >= 1", [("batch_size", "must be >= 1")])
        if self.max_delay < 0 or self.poll_timeout < 0 or self.stop_grace < 0:
            raise InvalidInput("max_delay, poll_timeout and stop_grace must be >= 0")


@dataclass(slots=True)
class SinkStats:
    consumed: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    write_seconds: float = 0.0

    def add(self, result: WriteResult, seconds: float) -> None:
        self.written += result.written
        self.duplicates += result.duplicates
        self.rejected += result.rejected
        self.batches += 1
        self.write_seconds += seconds

    def summary(self) -> str:
        return (
            f"{self.consumed} consumed, {self.written} written, {self.duplicates} already"
            f" stored, {self.rejected} rejected in {self.batches} batches"
            f" ({self.retries} retries)"
        )


class SinkConsumer:
    """Moves decisions from the log into a sink (see the module docs). Not thread-safe, except
    :meth:`stop`, which any thread or a signal handler may call."""

    def __init__(
        self,
        transport: Transport,
        sink: DecisionSink,
        settings: SinkSettings | None = None,
        *,
        topics: Topics | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.transport = transport
        self.sink = sink
        self.settings = settings or SinkSettings()
        self.topics = topics or Topics()
        self.stats = SinkStats()
        self.stop_event = threading.Event()
        self._clock = clock
        s = self.settings
        self._retrier = Retrier(
            Backoff(s.retry_initial, s.retry_max), None, self.stop_event, s.stop_grace, sleep
        )
        self._consumer: Consumer | None = None
        self._buffer: list[Message] = []
        self._first_buffered = 0.0
        self._truth_topics: tuple[str, ...] = ()
        self._last_summary = clock()

    # -- lifecycle

    def open(self) -> None:
        """Join the group (``run`` does it when needed)."""
        if self._consumer is not None:
            return
        names = [self.topics.processed]
        if self.settings.truth:
            try:
                self.transport.partitions_for(self.topics.truth)
                names.append(self.topics.truth)
                self._truth_topics = (self.topics.truth,)
            except UnknownTopic:
                log.info("no %s topic: precision/recall will use analyst labels only",
                         self.topics.truth)  # fmt: skip
        self._consumer = self.transport.consumer(self.settings.group_id, names)
        log.info(
            "sink consumer joined group %s on %s, writing to %s",
            self.settings.group_id,
            self.transport.redacted(),
            self.sink.describe(),
        )

    def stop(self) -> None:
        """Ask :meth:`run` to write what it holds and return (safe from signal handlers)."""
        self.stop_event.set()

    def close(self) -> None:
        """Leave the group (buffered, unwritten records are read again by the next member)."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        self._buffer.clear()

    def __enter__(self) -> SinkConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the loop

    def run(self, *, max_records: int | None = None, idle_timeout: float | None = None) -> int:
        """Consume until :meth:`stop`, ``max_records`` read, or ``idle_timeout`` seconds without
        input; writes what is buffered before returning. Returns the records consumed."""
        self.open()
        consumed = 0
        idle_since = self._clock()
        try:
            while not self.stop_event.is_set():
                count = self.step()
                consumed += count
                now = self._clock()
                if count:
                    idle_since = now
                if max_records is not None and consumed >= max_records:
                    break
                if idle_timeout is not None and not count and now - idle_since >= idle_timeout:
                    break
            self.flush()
        except DeliveryAbandoned as exc:
            log.warning("%s", exc)
        log.info("sink consumer stopping: %s", self.stats.summary())
        return consumed

    def step(self) -> int:
        """Poll once, and write + commit the buffer when it is full or old enough."""
        self.open()
        consumer = self._consumer
        assert consumer is not None
        s = self.settings
        room = max(s.batch_size - len(self._buffer), 1)
        timeout = s.poll_timeout
        if self._buffer:
            timeout = min(timeout, max(self._first_buffered + s.max_delay - self._clock(), 0.0))
        messages = self._retrier.run(
            "poll", lambda: consumer.poll(max_messages=room, timeout=timeout)
        )
        if messages:
            if not self._buffer:
                self._first_buffered = self._clock()
            self._buffer.extend(messages)
            self.stats.consumed += len(messages)
        due = self._buffer and (
            len(self._buffer) >= s.batch_size or self._clock() - self._first_buffered >= s.max_delay
        )
        if due:
            self.flush()
        if s.summary_every > 0 and self._clock() - self._last_summary >= s.summary_every:
            self._last_summary = self._clock()
            log.info("sink: %s", self.stats.summary())
        return len(messages)

    def flush(self) -> WriteResult | None:
        """Write the buffered records (retrying while the sink is down), then commit them."""
        if not self._buffer or self._consumer is None:
            return None
        consumer = self._consumer
        batch = build_batch(self._buffer, self._truth_topics)
        for bad in batch.rejected:
            log.warning("skipping %s[%d]@%d: %s", bad.topic, bad.partition, bad.offset, bad.reason)
        started = time.perf_counter()
        result = self._retrier.run(
            "sink write",
            lambda: self.sink.write(batch),
            retriable=(SinkUnavailable,),
            on_failure=self._count_retry,
        )
        self.stats.add(result, time.perf_counter() - started)
        self._commit(consumer, batch)
        self._buffer = []
        return result

    def _count_retry(self, exc: BaseException, attempt: int) -> None:
        self.stats.retries += 1

    def _commit(self, consumer: Consumer, batch: Batch) -> None:
        def commit() -> None:
            assigned = consumer.assignment()
            owned: dict[TopicPartition, int] = {
                tp: off for tp, off in batch.offsets.items() if tp in assigned
            }
            if not owned:
                return
            try:
                consumer.commit(owned)
            except CommitFailed as exc:
                log.warning("offsets not committed (%s); the new owner re-writes them", exc)

        self._retrier.run("commit", commit, retriable=(TransportError,))
