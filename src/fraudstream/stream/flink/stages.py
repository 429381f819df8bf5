"""The Flink job's per-record logic, free of PyFlink (so it is unit-tested without Flink).

The Python processor keeps every feature state in one store and scores an event with
``get_many -> compute -> update -> put_many``. In Flink each state lives in the keyed state of
the operator its key is routed to, so the job splits that step along the keys (the state keys of
:meth:`~fraudstream.detector.features.FeatureExtractor.state_keys`):

1. :meth:`Stages.validate` (not keyed): parse the record; a rejection is a dead letter.
2. :meth:`Stages.entity` (keyed by ``entity_id``): remember the entity state *before* the event,
   fold the event in (idempotent by event id: a redelivered event is marked ``fresh=False``
   and changes nothing downstream either).
3. :meth:`Stages.shared`, once per shared kind (``ip``, ``email``, ``bin``; keyed by that state
   key, or passed through under the entity key when the event has none): the same for that
   key's state.
4. :meth:`Stages.finish` (on the last shared stage): score with the engine against the
   collected *before* states (a scratch store) and build the processor's decision record.

Every block of the extractor reads and updates only its own key's state, so the vector is the
one the processor computes from the same states; with one input partition and parallelism 1 the
states themselves are the processor's, record for record. With more parallelism, events of one
IP, e-mail or BIN from different entities can reach its stage in another order than the input's
(see docs/flink.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from fraudstream.detector.engine import CompiledVersion, Engine
from fraudstream.detector.event_store import EventStore
from fraudstream.detector.features import EntityState, StateStore
from fraudstream.detector.registry import Registry, SQLiteDocumentStore
from fraudstream.errors import InvalidInput, NotFound
from fraudstream.events import Event, Transaction, parse_transaction
from fraudstream.stream.flink.settings import WorkerSettings
from fraudstream.stream.records import (
    DeadLetterKind,
    Output,
    dead_letter,
    decision_output,
    dlq_kind,
)
from fraudstream.stream.transport import Message

__all__ = [
    "SHARED_KINDS",
    "InFlight",
    "ScratchStore",
    "Stages",
    "message_from_row",
    "scoring_dead_letter",
    "sink_row",
]

log = logging.getLogger(__name__)

#: Shared state kinds, in the job's stage order (the prefix of their state keys).
SHARED_KINDS: Final = ("ip", "email", "bin")
#: Longest pause between retries while the detector has no ACTIVE version.
MAX_STALL_SLEEP: Final = 5.0


@dataclass(slots=True)
class InFlight:
    """One valid transaction between the job's stages (pickled between operators)."""

    message: Message
    tx: Transaction
    #: Epoch seconds when the entity stage started on it (the decision's ``proc_time``).
    started: float = 0.0
    #: Seconds of scoring work so far, summed over stages (``frauddetector_time``).
    work: float = 0.0
    #: Its state keys, entity first (empty when the detector version has no model).
    keys: tuple[str, ...] = ()
    #: Each key's serialised state before this event (``None``: never seen).
    before: dict[str, bytes | None] = field(default_factory=dict)
    #: False when the entity had already counted this event id (a redelivery).
    fresh: bool = True
    #: ``(exception type, message)`` of a failure in an earlier stage: dead-lettered at the end.
    error: tuple[str, str] | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Flat tuples of builtins: Flink pickles every item between stages (four times per
        event); this takes about a third less time than pickling the pydantic model."""
        m = self.message
        return _rebuild, (
            (m.topic, m.partition, m.offset, m.key, m.value, m.headers, m.timestamp_ms),
            tuple(getattr(self.tx, name) for name in _TX_FIELDS),
            self.started,
            self.work,
            self.keys,
            self.before,
            self.fresh,
            self.error,
        )

    def key_for(self, kind: str) -> str:
        """Routing key for ``kind``'s stage: its state key, else the entity (pass-through)."""
        prefix = kind + ":"
        for key in self.keys[1:]:
            if key.startswith(prefix):
                return key
        return "entity-of:" + self.tx.entity_id


_TX_FIELDS: Final = tuple(Transaction.model_fields)


def _rebuild(
    message: tuple[Any, ...],
    tx: tuple[Any, ...],
    started: float,
    work: float,
    keys: tuple[str, ...],
    before: dict[str, bytes | None],
    fresh: bool,
    error: tuple[str, str] | None,
) -> InFlight:
    """Inverse of :meth:`InFlight.__reduce__` (the values were validated when first parsed)."""
    transaction = Transaction.model_construct(**dict(zip(_TX_FIELDS, tx, strict=True)))
    return InFlight(Message(*message), transaction, started, work, keys, before, fresh, error)


class ScratchStore(StateStore):
    """The engine's store in a worker: serves the states the stages collected, keeps nothing."""

    def __init__(self) -> None:
        self.states: dict[str, EntityState | None] = {}

    def get_many(self, keys: Iterable[str]) -> dict[str, EntityState | None]:
        return {key: self.states.get(key) for key in keys}

    def put_many(self, states: Mapping[str, EntityState | None]) -> None:
        """Nothing to do: the keyed stages already stored the updated states."""

    def close(self) -> None:
        self.states = {}


def scoring_dead_letter(
    topic: str, message: Message, exc_type: str, text: str, limit: int
) -> Output:
    """The processor's dead letter for an event the engine failed on (same reason format)."""
    return dead_letter(
        topic,
        message,
        DeadLetterKind.SCORING_ERROR,
        f"scoring failed: {exc_type}: {text}",
        error=exc_type,
        max_bytes=limit,
    )


def _load(data: bytes | None) -> EntityState | None:
    return None if data is None else EntityState.from_bytes(data)


class Stages:
    """The stages' logic for one Python worker: one engine, opened from the registry file.

    The engine notices a newly activated detector version within ``refresh_seconds`` (the
    registry's change counter), in each worker on its own: no restart, no broadcast.
    """

    def __init__(self, settings: WorkerSettings, *, sleep: Any = time.sleep) -> None:
        self.settings = settings
        path = Path(settings.registry)
        if not path.is_file():
            raise NotFound(f"registry file {path} does not exist (train a detector first)")
        self.scratch = ScratchStore()
        self.engine = Engine(
            Registry(SQLiteDocumentStore(path)),
            EventStore(settings.events_db or ":memory:"),
            self.scratch,
            refresh_seconds=settings.refresh_seconds,
        )
        self._sleep = sleep
        self._stalls = 0
        self._errors = 0
        self._warned_kinds: set[str] = set()

    def close(self) -> None:
        self.engine.close()

    def warm(self) -> None:
        """Compile the active version now (model loading) rather than on the first record."""
        try:
            self.engine.compiled(self.settings.detector_id)
        except NotFound as exc:
            log.warning("no active detector version yet: %s", exc)

    # -- stages

    def validate(self, message: Message) -> InFlight | Output:
        """A valid transaction to score, or the processor's dead letter for the message."""
        try:
            tx = parse_transaction(message.value)
        except InvalidInput as exc:
            return dead_letter(
                self.settings.topics.dlq,
                message,
                dlq_kind(exc),
                str(exc),
                problems=exc.problems,
                error=type(exc).__name__,
                max_bytes=self.settings.dlq_max_bytes,
            )
        return InFlight(message, tx)

    def entity(self, item: InFlight, stored: bytes | None) -> bytes | None:
        """Entity stage. Returns the entity's new state to store (``None``: unchanged)."""
        item.started = time.time()
        t0 = time.perf_counter()
        try:
            cv = self._compiled()
            if not cv.models:
                return None
            event = item.tx.to_event()
            keys = self._keys(cv, event)
            item.keys = tuple(keys)
            entity_key = keys[0]
            item.before[entity_key] = stored
            states: dict[str, EntityState | None] = {entity_key: _load(stored)}
            # Every model's extractor, as the engine does (the first one decides: the others
            # find the event id already remembered).
            results = [m.extractor.update(event, states) for m in cv.models]
            fresh = results[0]
            item.fresh = fresh
            state = states[entity_key]
            return state.to_bytes() if fresh and state is not None else None
        except Exception as exc:  # dead-lettered by the last stage, like the processor does
            item.error = (type(exc).__name__, str(exc))
            return None
        finally:
            item.work += time.perf_counter() - t0

    def shared(self, kind: str, item: InFlight, stored: bytes | None) -> bytes | None:
        """Stage of one shared kind. Returns its key's new state (``None``: unchanged)."""
        key = item.key_for(kind)
        if item.error is not None or key not in item.keys:
            return None
        t0 = time.perf_counter()
        try:
            item.before[key] = stored
            if not item.fresh:
                return None
            cv = self._compiled()
            event = item.tx.to_event()
            # A fresh entity state: the entity stage already decided this event is new.
            states: dict[str, EntityState | None] = {
                item.keys[0]: EntityState(),
                key: _load(stored),
            }
            for model in cv.models:
                model.extractor.update(event, states)
            state = states[key]
            return None if state is None else state.to_bytes()
        except Exception as exc:
            item.error = (type(exc).__name__, str(exc))
            return None
        finally:
            item.work += time.perf_counter() - t0

    def finish(self, item: InFlight) -> tuple[Output, bool]:
        """Last stage: ``(output, is_decision)``; a decision record or a dead letter."""
        s = self.settings
        if item.error is not None:
            return self._failed(item, *item.error), False
        self._warn_unrouted(item)
        t0 = time.perf_counter()
        self.scratch.states = {k: _load(v) for k, v in item.before.items()}
        try:
            while True:
                try:
                    prediction = self.engine.predict(
                        item.tx.to_event(), s.detector_id, store=s.events_db is not None, learn=True
                    )
                    break
                except NotFound as exc:
                    self._stall(exc)
                    t0 = time.perf_counter()
        except Exception as exc:
            self._errors += 1
            if self._errors <= 10 or self._errors % 1000 == 0:
                log.exception(
                    "scoring failed for %s (%d so far)", _where(item.message), self._errors
                )
            return self._failed(item, type(exc).__name__, str(exc)), False
        finally:
            self.scratch.states = {}
        work = item.work + time.perf_counter() - t0
        finished = time.time()
        out = decision_output(
            s.topics.processed,
            item.message,
            item.tx,
            prediction.to_dict(),
            started=item.started,
            finished=finished,
            scoring_ms=work * 1000.0,
        )
        if s.debug_state:
            out = self._with_state_counts(out, item)
        return out, True

    # -- helpers

    def _compiled(self) -> CompiledVersion:
        """The active version; while there is none, wait and retry (like the processor, a
        configuration slip stalls the stream instead of dead-lettering all of it)."""
        while True:
            try:
                cv = self.engine.compiled(self.settings.detector_id)
            except NotFound as exc:
                self._stall(exc)
                continue
            self._stalls = 0
            return cv

    def _stall(self, exc: NotFound) -> None:
        self._stalls += 1
        if self._stalls == 1 or self._stalls % 20 == 0:
            log.warning("scoring stalled (%d retries): %s", self._stalls, exc)
        self._sleep(min(MAX_STALL_SLEEP, 0.05 * 2.0 ** min(self._stalls, 10)))
        self.engine.refresh(force=True)

    @staticmethod
    def _keys(cv: CompiledVersion, event: Event) -> list[str]:
        keys = list(cv.models[0].extractor.state_keys(event))
        for model in cv.models[1:]:
            keys.extend(k for k in model.extractor.state_keys(event) if k not in keys)
        return keys

    def _warn_unrouted(self, item: InFlight) -> None:
        for key in item.keys[1:]:
            kind = key.partition(":")[0]
            if kind not in SHARED_KINDS and kind not in self._warned_kinds:
                self._warned_kinds.add(kind)
                log.warning(
                    "state keys of kind %r have no stage in this job: scored as never seen", kind
                )

    def _failed(self, item: InFlight, exc_type: str, text: str) -> Output:
        s = self.settings
        return scoring_dead_letter(s.topics.dlq, item.message, exc_type, text, s.dlq_max_bytes)

    @staticmethod
    def _with_state_counts(out: Output, item: InFlight) -> Output:
        record = orjson.loads(out.value)
        counts: dict[str, int] = {}
        for key in item.keys:
            state = _load(item.before.get(key))
            counts["entity" if key == item.keys[0] else key.partition(":")[0]] = (
                0 if state is None else state.count
            )
        record["fd"]["state_counts"] = counts
        return Output(out.topic, orjson.dumps(record), out.key, out.headers, out.source)


def _where(message: Message) -> str:
    return f"{message.topic}[{message.partition}]@{message.offset}"


def message_from_row(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Mapping[str, bytes | None] | None,
    timestamp_ms: int,
) -> Message:
    """The transport's :class:`Message` for a Kafka record read by Flink (a null value is
    empty bytes and header order is lost: Flink hands headers over as a map)."""
    return Message(
        topic,
        partition,
        offset,
        key,
        value or b"",
        tuple((name, data or b"") for name, data in (headers or {}).items()),
        timestamp_ms,
    )


def sink_row(out: Output) -> tuple[bytes | None, bytes, dict[str, bytes]]:
    """``(key, value, headers)`` for the Kafka sink table."""
    return out.key, out.value, dict(out.headers)
