"""What the processor writes: decision records and dead letters.

A *decision record* (``processed_transactions``, key = ``entity_id``) is the input record
(:meth:`~fraudstream.events.Transaction.to_record`) plus an ``fd`` object shaped like the
reference system's, with our additions::

    {"transaction_amt": 12.5, ..., "event_time": "2025-01-01T00:00:00.000Z",
     "fd": {"outcome": "approve",
            "ttdf": 12.3,                # event time -> decision, ms
            "proc_time": 11.1,           # event time -> scoring start, ms
            "frauddetector_time": 1.2,   # scoring, ms
            "queue_time": 3.4,           # input appended to the log -> decision, ms
            "decision_time": "2025-01-01T00:00:00.012Z",
            "outcomes": [...], "scores": {...}, "rules": [...], "reasons": [...],
            "detector_id": "...", "detector_version_id": "1", "model_versions": [...],
            "duplicate": false}}

A *dead letter* (``transactions_dlq``) keeps the input's ORIGINAL bytes as its value and key,
the input's headers, and adds ``dlq.*`` headers saying why and where from (see
:class:`DeadLetter`). Reasons come from :class:`~fraudstream.errors.InvalidInput` messages, which
never echo field values (they may be card or contact data).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import orjson

from fraudstream.errors import InvalidInput
from fraudstream.events import Transaction, format_time
from fraudstream.stream.transport import Message, TopicPartition

__all__ = [
    "DLQ_HEADERS",
    "DeadLetter",
    "DeadLetterKind",
    "Output",
    "dead_letter",
    "decision_output",
    "dlq_kind",
]

#: Longest reason text we put in a header.
MAX_REASON_CHARS: Final = 2000


class DeadLetterKind(StrEnum):
    TOO_LARGE = "too_large"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    INVALID = "invalid"  # missing, mistyped or absurd fields
    SCORING_ERROR = "scoring_error"  # the engine raised on a valid transaction


@dataclass(frozen=True, slots=True)
class _Headers:
    reason: str = "dlq.reason"
    kind: str = "dlq.kind"
    problems: str = "dlq.problems"
    error: str = "dlq.error"
    topic: str = "dlq.source.topic"
    partition: str = "dlq.source.partition"
    offset: str = "dlq.source.offset"
    timestamp: str = "dlq.source.timestamp_ms"
    time: str = "dlq.time_ms"
    truncated: str = "dlq.truncated_from"


#: The names of the headers a dead letter carries.
DLQ_HEADERS: Final = _Headers()


@dataclass(frozen=True, slots=True)
class Output:
    """One message to write, and the input partition it answers (for exactly-once retries)."""

    topic: str
    value: bytes
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    source: TopicPartition


def decision_output(
    topic: str,
    message: Message,
    transaction: Transaction,
    prediction: dict[str, Any],
    *,
    started: float,
    finished: float,
    scoring_ms: float,
) -> Output:
    """The decision record for ``transaction`` (times are epoch seconds)."""
    event_time = transaction.event_time.timestamp()
    fd: dict[str, Any] = {
        "outcome": prediction.get("outcome"),
        "ttdf": round((finished - event_time) * 1000.0, 3),
        "proc_time": round((started - event_time) * 1000.0, 3),
        "frauddetector_time": round(scoring_ms, 3),
        # From the input's append to the log to the decision: the pipeline's own latency,
        # meaningful even when event times are simulated or come from skewed clocks.
        "queue_time": round(finished * 1000.0 - message.timestamp_ms, 3),
        "decision_time": format_time(finished),
    }
    for key, value in prediction.items():
        fd.setdefault(key, value)
    record = transaction.to_record()
    record["fd"] = fd
    value = orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY)
    return Output(topic, value, transaction.entity_id.encode(), (), message.topic_partition)


def dlq_kind(error: InvalidInput) -> DeadLetterKind:
    """Classify a :func:`~fraudstream.events.parse_transaction` rejection."""
    first = error.problems[0] if error.problems else ("", "")
    if first == ("$", "message too large"):
        return DeadLetterKind.TOO_LARGE
    if first == ("$", "malformed JSON"):
        return DeadLetterKind.MALFORMED_JSON
    if first == ("$", "not an object"):
        return DeadLetterKind.NOT_AN_OBJECT
    return DeadLetterKind.INVALID


def dead_letter(
    topic: str,
    message: Message,
    kind: DeadLetterKind,
    reason: str,
    *,
    problems: Sequence[tuple[str, str]] = (),
    error: str = "",
    max_bytes: int | None = None,
    now: float | None = None,
) -> Output:
    """A dead letter for ``message``: its original key, value and headers plus ``dlq.*``.

    A value longer than ``max_bytes`` (a limit below the DLQ topic's own) is cut to that length
    and ``dlq.truncated_from`` gives the original size, so one giant input cannot stall the DLQ.
    """
    value = message.value
    extra: list[tuple[str, bytes]] = []
    if max_bytes is not None and len(value) > max_bytes:
        extra.append((DLQ_HEADERS.truncated, str(len(value)).encode()))
        value = value[:max_bytes]
    h = DLQ_HEADERS
    headers = (
        *message.headers,
        (h.reason, reason[:MAX_REASON_CHARS].encode("utf-8", "replace")),
        (h.kind, kind.value.encode()),
        (h.problems, orjson.dumps([list(p) for p in problems])),
        (h.error, error.encode()),
        (h.topic, message.topic.encode()),
        (h.partition, str(message.partition).encode()),
        (h.offset, str(message.offset).encode()),
        (h.timestamp, str(message.timestamp_ms).encode()),
        (h.time, str(int((time.time() if now is None else now) * 1000)).encode()),
        *extra,
    )
    return Output(topic, value, message.key, headers, message.topic_partition)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead letter read back from the DLQ topic (for tools, replays and tests)."""

    value: bytes
    key: bytes | None
    kind: str
    reason: str
    problems: list[tuple[str, str]]
    error: str
    source: TopicPartition
    source_offset: int
    truncated_from: int | None

    @classmethod
    def from_message(cls, message: Message) -> DeadLetter:
        h = DLQ_HEADERS

        def text(name: str) -> str:
            raw = message.header(name)
            return "" if raw is None else raw.decode("utf-8", "replace")

        problems_raw = message.header(h.problems) or b"[]"
        problems = [(str(a), str(b)) for a, b in orjson.loads(problems_raw)]
        truncated = text(h.truncated)
        return cls(
            value=message.value,
            key=message.key,
            kind=text(h.kind),
            reason=text(h.reason),
            problems=problems,
            error=text(h.error),
            source=TopicPartition(text(h.topic), int(text(h.partition) or -1)),
            source_offset=int(text(h.offset) or -1),
            truncated_from=int(truncated) if truncated else None,
        )
