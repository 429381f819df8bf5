"""Rows the stores write, parsed from ``processed_transactions`` and ``simulator_truth`` messages.

A :class:`DecisionRow` keeps the whole record (``record``: the message's JSON bytes, as the
processor wrote it) plus the columns the dashboard filters, groups and searches on, so a store
never has to parse JSON to answer a query. Its identity is where it was read from
(``topic``, ``partition``, ``offset``): writing the same message twice is a no-op in every store.

Parsing is lenient by design: the processor owns the record's schema, and a store that refused
a decision because an optional field moved would lose data. Only records without an event id,
an entity id, a parsable ``event_time`` or an ``fd`` object are rejected (:class:`Rejected`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from fraudstream.stream.transport import Message, TopicPartition

__all__ = [
    "Batch",
    "DecisionRow",
    "Rejected",
    "TruthRow",
    "build_batch",
    "parse_decision",
    "parse_truth",
    "time_ms",
]


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """One decision, flattened for storage (see the module docs)."""

    topic: str
    partition: int
    offset: int
    event_id: str
    entity_id: str
    event_ms: int
    decision_ms: int | None
    outcome: str | None
    score: float | None
    amount: float | None
    currency: str | None
    category: str | None
    email: str | None
    ip: str | None
    card_bin: int | None
    billing_state: str | None
    latitude: float | None
    longitude: float | None
    ttdf: float | None
    proc_time: float | None
    fd_time: float | None
    queue_time: float | None
    detector_id: str | None
    detector_version: str | None
    duplicate: bool
    rules: tuple[str, ...]
    record: bytes

    @property
    def doc_id(self) -> str:
        """``topic+partition+offset``: the document id Kafka Connect's sink gives a record."""
        return f"{self.topic}+{self.partition}+{self.offset}"


@dataclass(frozen=True, slots=True)
class TruthRow:
    """The simulator's ground truth for one event (``simulator_truth``)."""

    topic: str
    partition: int
    offset: int
    event_id: str
    entity_id: str | None
    is_fraud: bool
    kind: str | None
    event_ms: int | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message no store can hold, and why (never its content: it may be card data)."""

    topic: str
    partition: int
    offset: int
    reason: str


@dataclass(slots=True)
class Batch:
    """What one write holds, and the offsets to commit once it is written."""

    decisions: list[DecisionRow] = field(default_factory=list)
    truths: list[TruthRow] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.decisions) + len(self.truths) + len(self.rejected)


def time_ms(value: Any) -> int | None:
    """Epoch milliseconds from an ISO 8601 text (naive = UTC) or epoch seconds; None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return round(float(value) * 1000.0) if math.isfinite(value) else None
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000.0)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value)
    return text or None


def _load(message: Message) -> Mapping[str, Any] | str:
    try:
        data = orjson.loads(message.value)
    except orjson.JSONDecodeError:
        return "not JSON"
    return data if isinstance(data, Mapping) else "not a JSON object"


def _reject(message: Message, reason: str) -> Rejected:
    return Rejected(message.topic, message.partition, message.offset, reason)


def parse_decision(message: Message) -> DecisionRow | Rejected:
    """The row of a ``processed_transactions`` message."""
    data = _load(message)
    if isinstance(data, str):
        return _reject(message, data)
    fd = data.get("fd")
    event_id, entity_id = _text(data.get("event_id")), _text(data.get("entity_id"))
    event_ms = time_ms(data.get("event_time"))
    if not isinstance(fd, Mapping):
        return _reject(message, "no fd object")
    if event_id is None or entity_id is None or event_ms is None:
        return _reject(message, "missing event_id, entity_id or event_time")
    scores = fd.get("scores")
    score = None
    if isinstance(scores, Mapping) and scores:
        score = _float(next(iter(scores.values())))
    rules = fd.get("rules")
    rule_ids = (
        tuple(str(r.get("rule_id")) for r in rules if isinstance(r, Mapping) and r.get("rule_id"))
        if isinstance(rules, list)
        else ()
    )
    currency = _text(data.get("transaction_currency"))
    return DecisionRow(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        event_id=event_id,
        entity_id=entity_id,
        event_ms=event_ms,
        decision_ms=time_ms(fd.get("decision_time")),
        outcome=_text(fd.get("outcome")),
        score=score,
        amount=_float(data.get("transaction_amt")),
        currency=currency.upper() if currency else None,
        category=_text(data.get("product_category")),
        email=_text(data.get("email_address")),
        ip=_text(data.get("ip_address")),
        card_bin=_int(data.get("card_bin")),
        billing_state=_text(data.get("billing_state")),
        latitude=_float(data.get("billing_latitude")),
        longitude=_float(data.get("billing_longitude")),
        ttdf=_float(fd.get("ttdf")),
        proc_time=_float(fd.get("proc_time")),
        fd_time=_float(fd.get("frauddetector_time")),
        queue_time=_float(fd.get("queue_time")),
        detector_id=_text(fd.get("detector_id")),
        detector_version=_text(fd.get("detector_version_id")),
        duplicate=bool(fd.get("duplicate", False)),
        rules=rule_ids,
        record=message.value,
    )


def parse_truth(message: Message) -> TruthRow | Rejected:
    """The row of a ``simulator_truth`` message (``{event_id, is_fraud, fraud_kind|kind}``)."""
    data = _load(message)
    if isinstance(data, str):
        return _reject(message, data)
    event_id = _text(data.get("event_id"))
    is_fraud = data.get("is_fraud")
    if event_id is None or not isinstance(is_fraud, bool):
        return _reject(message, "missing event_id or boolean is_fraud")
    return TruthRow(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        event_id=event_id,
        entity_id=_text(data.get("entity_id")),
        is_fraud=is_fraud,
        kind=_text(data.get("fraud_kind", data.get("kind"))),
        event_ms=time_ms(data.get("event_time")),
    )


def build_batch(messages: Iterable[Message], truth_topics: Sequence[str] = ()) -> Batch:
    """Parse messages into a :class:`Batch`; those of ``truth_topics`` are ground truth."""
    batch = Batch()
    truth = frozenset(truth_topics)
    offsets = batch.offsets
    for message in messages:
        tp = message.topic_partition
        offsets[tp] = max(offsets.get(tp, 0), message.offset + 1)
        if message.topic in truth:
            row: DecisionRow | TruthRow | Rejected = parse_truth(message)
        else:
            row = parse_decision(message)
        if isinstance(row, DecisionRow):
            batch.decisions.append(row)
        elif isinstance(row, TruthRow):
            batch.truths.append(row)
        else:
            batch.rejected.append(row)
    return batch
