"""The processor: ``transactions`` -> validate -> score in-process -> ``processed_transactions``.

One loop object with injected parts: a :class:`~fraudstream.stream.transport.Transport`, a
scorer (the :class:`~fraudstream.detector.engine.Engine`), :class:`ProcessorSettings`, optional
:class:`~fraudstream.stream.metrics.PipelineMetrics`, a clock. Each batch:

1. ``poll`` up to ``batch_size`` messages from ``transactions`` (group ``group_id``);
2. each message: :func:`~fraudstream.events.parse_transaction` (a rejection becomes a dead
   letter: malformed JSON, missing / mistyped / absurd fields, oversized message), then
   ``engine.predict(tx.to_event(), detector_id)`` (an unexpected error becomes a dead letter
   too, and is logged; a missing detector stalls and retries instead, so a configuration slip
   does not dead-letter the whole stream), then the decision record;
3. deliver outputs and commit offsets with :class:`~fraudstream.stream.delivery.AtLeastOnce`
   (default) or :class:`~fraudstream.stream.delivery.ExactlyOnce`; the engine's state is
   flushed before the offsets are committed, and its state updates are idempotent by event id,
   so a replayed batch never double counts.

Scale-out: run N processors with one ``group_id``; they split the partitions, and because the
key is ``entity_id`` every event of a customer goes to the same processor. See
:mod:`fraudstream.stream` for what state is shared between processes.

Stopping: :meth:`Processor.run` returns after the in-flight batch once ``stop`` is set (the CLI
sets it on SIGTERM / SIGINT), having committed it; :meth:`Processor.close` leaves the group.
A :class:`~fraudstream.stream.transport.FatalTransportError` (a fenced producer, a fatal Kafka
client error) is never retried: ``run`` logs it and raises it, and the command exits non-zero.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from fraudstream.errors import InvalidInput, NotFound
from fraudstream.events import Event, parse_transaction
from fraudstream.stream.delivery import (
    AtLeastOnce,
    Backoff,
    Delivery,
    DeliveryAbandoned,
    ExactlyOnce,
    Retrier,
)
from fraudstream.stream.metrics import PipelineMetrics
from fraudstream.stream.records import (
    DeadLetterKind,
    Output,
    dead_letter,
    decision_output,
    dlq_kind,
)
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport import (
    Consumer,
    FatalTransportError,
    Message,
    TopicPartition,
    Transport,
    TransportError,
)

__all__ = [
    "DEFAULT_DETECTOR_ID",
    "DEFAULT_GROUP",
    "Decision",
    "Processor",
    "ProcessorSettings",
    "Scorer",
]

log = logging.getLogger(__name__)

#: The default detector's id (``fraudstream.detector.defaults.DETECTOR_ID``), repeated here so
#: this module imports without the detector stack.
DEFAULT_DETECTOR_ID: Final = "fraudstream_detector"
DEFAULT_GROUP: Final = "fraudstream-processor"
#: Log the traceback of the first scoring errors, then only every this many.
_LOG_EVERY_ERROR = 1000


class Decision(Protocol):
    """What the scorer returns (:class:`~fraudstream.detector.prediction.Prediction`)."""

    @property
    def outcome(self) -> str | None: ...

    def to_dict(self) -> dict[str, Any]: ...


class Scorer(Protocol):
    """What the processor needs of the engine."""

    def predict(self, event: Event, detector_id: str) -> Decision: ...

    def flush(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ProcessorSettings:
    """How a processor runs. ``instance`` names this process within the group: with
    ``exactly_once`` its transactional id is ``<group_id>-<instance>``, which must be unique
    per running processor and stable across restarts (a restart then fences its dead
    predecessor and settles its open transaction at once)."""

    detector_id: str = DEFAULT_DETECTOR_ID
    group_id: str = DEFAULT_GROUP
    batch_size: int = 500
    poll_timeout: float = 0.2
    exactly_once: bool = False
    instance: str = field(default_factory=socket.gethostname)
    #: Dead letters larger than this are cut (``dlq.truncated_from`` says so).
    dlq_max_bytes: int = 512 * 1024
    flush_timeout: float = 30.0
    retry_initial: float = 0.05
    retry_max: float = 5.0
    #: After a stop request, how long to keep retrying a failing delivery before giving up
    #: (uncommitted: the batch is processed again after a restart).
    stop_grace: float = 30.0
    #: Seconds between log summaries (0: none) and consumer-lag refreshes (0: none; done in a
    #: background thread).
    summary_every: float = 10.0
    lag_every: float = 5.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidInput("batch_size must be >= 1", [("batch_size", "must be >= 1")])
        if self.poll_timeout < 0 or self.flush_timeout <= 0 or self.stop_grace < 0:
            raise InvalidInput("poll_timeout, flush_timeout and stop_grace must be >= 0")
        if not self.instance:
            raise InvalidInput("instance must not be empty", [("instance", "empty")])

    @property
    def transactional_id(self) -> str:
        return f"{self.group_id}-{self.instance}"


class Processor:
    """The scoring loop (see the module docs). Not thread-safe: one per thread or process.

    ``on_assign(partitions)`` is called with the new assignment whenever it changes, before
    any message of a newly assigned partition is scored (the CLI reloads cached entity state
    there, so a partition that moved between processes is scored with the state its previous
    owner flushed).
    """

    def __init__(
        self,
        transport: Transport,
        scorer: Scorer,
        settings: ProcessorSettings | None = None,
        *,
        topics: Topics | None = None,
        metrics: PipelineMetrics | None = None,
        on_assign: Callable[[frozenset[TopicPartition]], None] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.transport = transport
        self.scorer = scorer
        self.settings = settings or ProcessorSettings()
        self.topics = topics or Topics()
        self.metrics = metrics or PipelineMetrics()
        self.stop_event = threading.Event()
        self._on_assign = on_assign
        self._clock = clock
        s = self.settings
        self._retrier = Retrier(
            Backoff(s.retry_initial, s.retry_max),
            self.metrics,
            self.stop_event,
            s.stop_grace,
            sleep,
        )
        self._consumer: Consumer | None = None
        self._delivery: Delivery | None = None
        self._assigned: frozenset[TopicPartition] = frozenset()
        self._scoring_errors = 0
        #: Next offset to process per owned partition (replaced, never mutated: the lag
        #: thread reads it).
        self._positions: dict[TopicPartition, int] = {}
        self._lag_stop = threading.Event()
        self._lag_thread: threading.Thread | None = None
        self._closed = False

    # -- lifecycle

    def open(self) -> None:
        """Join the group and open the output producer (``run`` does it when needed)."""
        if self._consumer is not None:
            return
        s = self.settings
        self._consumer = self.transport.consumer(s.group_id, [self.topics.transactions])
        try:
            if s.exactly_once:
                self._delivery = ExactlyOnce(self.transport, self._retrier, s.transactional_id)
            else:
                self._delivery = AtLeastOnce(
                    self.transport, self._retrier, flush_timeout=s.flush_timeout
                )
        except BaseException:
            self._consumer.close()
            self._consumer = None
            raise
        if s.lag_every > 0:
            self._lag_thread = threading.Thread(
                target=self._lag_loop, args=(s.lag_every,), name="fraudstream-lag", daemon=True
            )
            self._lag_thread.start()
        log.info(
            "processor %s joined group %s on %s (%s, detector %s)",
            s.instance,
            s.group_id,
            self.transport.redacted(),
            "exactly-once" if s.exactly_once else "at-least-once",
            s.detector_id,
        )

    def stop(self) -> None:
        """Ask :meth:`run` to return after the in-flight batch (safe from signal handlers)."""
        self.stop_event.set()

    def close(self) -> None:
        """Close the producer and leave the group. Offsets were committed batch by batch."""
        if self._closed:
            return
        self._closed = True
        self._lag_stop.set()
        if self._lag_thread is not None:
            self._lag_thread.join()
        try:
            if self._delivery is not None:
                self._delivery.close()
        except TransportError as exc:
            log.warning("closing the output producer: %s", exc)
        finally:
            if self._consumer is not None:
                self._consumer.close()
            self._consumer = self._delivery = None

    def __enter__(self) -> Processor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the loop

    def run(self, *, max_events: int | None = None, idle_timeout: float | None = None) -> int:
        """Process until :meth:`stop` (or ``max_events`` inputs handled, or no input for
        ``idle_timeout`` seconds). Returns the number of inputs handled."""
        self.open()
        handled = 0
        idle_since = time.monotonic()
        try:
            while not self.stop_event.is_set():
                count = self.step()
                handled += count
                now = time.monotonic()
                if count:
                    idle_since = now
                self._housekeeping()
                if max_events is not None and handled >= max_events:
                    break
                if idle_timeout is not None and not count and now - idle_since >= idle_timeout:
                    break
        except FatalTransportError as exc:
            log.error("processor stopping on a fatal transport error (not retried): %s", exc)
            raise
        if self.settings.summary_every > 0:
            log.info("processor stopping: %s", self.metrics.summary())
        return handled

    def step(self) -> int:
        """One batch: poll, score, deliver, commit. Returns how many inputs it handled."""
        self.open()
        consumer = self._consumer
        delivery = self._delivery
        assert consumer is not None
        assert delivery is not None
        s = self.settings
        messages = self._retrier.run(
            "poll", lambda: consumer.poll(max_messages=s.batch_size, timeout=s.poll_timeout)
        )
        self._check_assignment(consumer)
        if not messages:
            return 0
        self.metrics.consumed(len(messages))
        outputs, outcomes, dead = self.handle(messages)
        offsets: dict[TopicPartition, int] = {}
        for m in messages:
            offsets[m.topic_partition] = max(offsets.get(m.topic_partition, 0), m.offset + 1)
        delivered = delivery.deliver(consumer, outputs, offsets, self.scorer.flush)
        written_at = self._clock()
        if delivered.committed:
            owned = self._assigned
            self._positions = {
                **self._positions,
                **{tp: off for tp, off in offsets.items() if tp in owned},
            }
        kept = {id(o) for o in delivered.outputs}
        decided: list[str] = []
        latencies: list[float] = []
        dead_kinds: list[str] = []
        for message, out, outcome, kind in zip(messages, outputs, outcomes, dead, strict=True):
            if id(out) not in kept:
                continue
            if kind is None:
                decided.append(outcome or "none")
                latencies.append(max(written_at - message.timestamp_ms / 1000.0, 0.0))
            else:
                dead_kinds.append(kind)
        self.metrics.written(decided, dead_kinds, latencies)
        return len(messages)

    def handle(
        self, messages: Sequence[Message]
    ) -> tuple[list[Output], list[str | None], list[str | None]]:
        """The output of each message, with its outcome (decisions) or dead-letter kind."""
        outputs: list[Output] = []
        outcomes: list[str | None] = []
        kinds: list[str | None] = []
        for message in messages:
            out, outcome, kind = self._one(message)
            outputs.append(out)
            outcomes.append(outcome)
            kinds.append(kind)
        return outputs, outcomes, kinds

    def _one(self, message: Message) -> tuple[Output, str | None, str | None]:
        topics, s = self.topics, self.settings
        try:
            tx = parse_transaction(message.value)
        except InvalidInput as exc:
            kind = dlq_kind(exc)
            out = dead_letter(
                topics.dlq,
                message,
                kind,
                str(exc),
                problems=exc.problems,
                error=type(exc).__name__,
                max_bytes=s.dlq_max_bytes,
            )
            return out, None, kind.value
        started = self._clock()
        t0 = time.perf_counter()
        try:
            prediction = self._retrier.run(
                "scoring (detector unavailable)",
                lambda: self.scorer.predict(tx.to_event(), s.detector_id),
                retriable=(NotFound,),
            )
        except DeliveryAbandoned:
            raise
        except Exception as exc:
            return self._scoring_failed(message, exc), None, DeadLetterKind.SCORING_ERROR.value
        scoring_s = time.perf_counter() - t0
        finished = self._clock()
        self.metrics.scored(scoring_s)
        out = decision_output(
            topics.processed,
            message,
            tx,
            prediction.to_dict(),
            started=started,
            finished=finished,
            scoring_ms=scoring_s * 1000.0,
        )
        return out, prediction.outcome, None

    def _scoring_failed(self, message: Message, exc: Exception) -> Output:
        self._scoring_errors += 1
        where = f"{message.topic}[{message.partition}]@{message.offset}"
        if self._scoring_errors <= 10 or self._scoring_errors % _LOG_EVERY_ERROR == 0:
            log.error(
                "scoring failed for %s (%d so far); dead-lettered",
                where,
                self._scoring_errors,
                exc_info=exc,
            )
        return dead_letter(
            self.topics.dlq,
            message,
            DeadLetterKind.SCORING_ERROR,
            f"scoring failed: {type(exc).__name__}: {exc}",
            error=type(exc).__name__,
            max_bytes=self.settings.dlq_max_bytes,
        )

    def _check_assignment(self, consumer: Consumer) -> None:
        assigned = consumer.assignment()
        if assigned != self._assigned:
            log.info(
                "assigned partitions: %s",
                ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(assigned)) or "none",
            )
            self._assigned = assigned
            self._positions = {tp: o for tp, o in self._positions.items() if tp in assigned}
            if self._on_assign is not None:
                self._on_assign(assigned)

    def _housekeeping(self) -> None:
        s = self.settings
        if s.summary_every > 0 and self.metrics.due(s.summary_every):
            log.info("%s", self.metrics.summary())

    def refresh_lag(self) -> int | None:
        """This processor's lag into the metrics: for each partition it owns, the end of the
        log minus the next offset it will process (None if unavailable).

        Built from the transport's end offsets and the offsets of processed batches, so it
        never waits on the group coordinator (which blocks during a rebalance). A partition
        not read yet since its assignment counts once its first batch is processed. The
        group's total lag is the sum over its processors.
        """
        positions, assigned = self._positions, self._assigned
        try:
            ends = self.transport.end_offsets(self.topics.transactions)
        except TransportError as exc:
            log.debug("lag unavailable: %s", exc)
            return None
        total = sum(
            max(ends.get(tp.partition, 0) - positions[tp], 0) for tp in assigned if tp in positions
        )
        self.metrics.set_lag(total)
        return total

    def _lag_loop(self, every: float) -> None:
        while not self._lag_stop.wait(every):
            try:
                self.refresh_lag()
            except Exception:  # never let metrics kill anything
                log.exception("lag refresh failed")
