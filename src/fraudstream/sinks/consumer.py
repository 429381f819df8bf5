"""The sink consumer: ``processed_transactions`` (+ ``simulator_truth``) -> a decision sink.

It reads in its own consumer group through the shared
:class:`~fraudstream.stream.batch_loop.BatchLoop` and writes in batches with a bounded delay: a
batch is written once it holds ``batch_size`` records or its oldest record has waited ``max_delay``
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from fraudstream.sinks.base import DecisionSink, WriteResult
from fraudstream.sinks.errors import SinkUnavailable
from fraudstream.sinks.records import build_batch
from fraudstream.stream.batch_loop import HANDLE, BatchLoop, LoopSettings, Rejected
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport import Message, Transport, UnknownTopic

__all__ = ["DEFAULT_GROUP", "SinkConsumer", "SinkSettings", "SinkStats"]

log = logging.getLogger(__name__)

DEFAULT_GROUP: Final = "fraudstream-sink"


@dataclass(frozen=True, slots=True)
class SinkSettings(LoopSettings):
    """How a sink consumer batches, retries and stops (see the module docs and
    :class:`~fraudstream.stream.batch_loop.LoopSettings`; ``dlq`` takes records no store can
    hold, else they are logged and skipped)."""

    group_id: str = DEFAULT_GROUP
    max_delay: float = 1.0
    truth: bool = True
    summary_every: float = 30.0


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
        self._clock = clock
        self._sleep = sleep
        self._truth_topics: tuple[str, ...] = ()
        self._last_summary = clock()
        self.loop: BatchLoop | None = None
        self.stop_event = threading.Event()

    # -- lifecycle

    def open(self) -> BatchLoop:
        """Join the group (``run`` does it when needed)."""
        if self.loop is not None:
            return self.loop
        names = [self.topics.processed]
        if self.settings.truth:
            try:
                self.transport.partitions_for(self.topics.truth)
                names.append(self.topics.truth)
                self._truth_topics = (self.topics.truth,)
            except UnknownTopic:
                log.info("no %s topic: precision/recall will use analyst labels only",
                         self.topics.truth)  # fmt: skip
        loop = BatchLoop(
            self.transport,
            names,
            self._write,
            self.settings,
            name="sink",
            retriable=(SinkUnavailable,),
            on_error=self._count_retry,
            housekeeping=self._summary,
            stop_event=self.stop_event,
            clock=self._clock,
            sleep=self._sleep,
        )
        loop.open()
        self.loop = loop
        log.info(
            "sink consumer joined group %s on %s, writing to %s",
            self.settings.group_id,
            self.transport.redacted(),
            self.sink.describe(),
        )
        return loop

    def stop(self) -> None:
        """Ask :meth:`run` to write what it holds and return (safe from signal handlers)."""
        self.stop_event.set()

    def close(self) -> None:
        """Leave the group (buffered, unwritten records are read again by the next member)."""
        if self.loop is not None:
            self.loop.close()
            self.loop = None

    def __enter__(self) -> SinkConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the loop

    def run(self, *, max_records: int | None = None, idle_timeout: float | None = None) -> int:
        """Consume until :meth:`stop`, ``max_records`` read, or ``idle_timeout`` seconds without
        input; writes what is buffered before returning. Returns the records consumed."""
        consumed = self.open().run(max_records=max_records, idle_timeout=idle_timeout)
        log.info("sink consumer stopping: %s", self.stats.summary())
        return consumed

    def step(self) -> int:
        """Poll once, and write + commit the buffer when it is full or old enough."""
        count = self.open().step()
        self._summary()
        return count

    def _summary(self) -> None:
        every = self.settings.summary_every
        if every > 0 and self._clock() - self._last_summary >= every:
            self._last_summary = self._clock()
            log.info("sink: %s", self.stats.summary())

    def flush(self) -> None:
        """Write the buffered records (retrying while the sink is down), then commit them."""
        if self.loop is not None:
            self.loop.flush()

    def _write(self, messages: Sequence[Message]) -> list[Rejected]:
        """The handler: one idempotent write of the batch (retried while the sink is down)."""
        batch = build_batch(messages, self._truth_topics)
        started = time.perf_counter()
        result = self.sink.write(batch)
        self.stats.consumed += len(messages)
        self.stats.add(result, time.perf_counter() - started)
        by_place = {(m.topic, m.partition, m.offset): m for m in messages}
        return [
            Rejected(by_place[(bad.topic, bad.partition, bad.offset)], bad.reason)
            for bad in batch.rejected
        ]

    def _count_retry(self, step: str, exc: BaseException, attempt: int) -> None:
        if step == HANDLE:
            self.stats.retries += 1
