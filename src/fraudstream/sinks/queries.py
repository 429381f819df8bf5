"""The query API's argument and result types (shared by every :class:`DecisionStore`).

Times: arguments accept epoch seconds or aware datetimes; results carry epoch seconds
(``float``) and ``to_dict()`` adds ISO 8601 text. Every time axis is the transaction's
``event_time``; ranges are ``[start, end)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

from fraudstream.events import format_time
from fraudstream.sinks.errors import SinkInputError

__all__ = [
    "GROUP_FIELDS",
    "LATENCY_METRICS",
    "SEARCH_FIELDS",
    "AnalystLabel",
    "DecisionFilter",
    "DecisionSummary",
    "EntityOrder",
    "EntityStats",
    "Group",
    "GroupField",
    "Label",
    "LatencyMetric",
    "LatencyPoint",
    "OutcomeTotals",
    "Quality",
    "QualityPoint",
    "ScoreBin",
    "SearchField",
    "SeriesPoint",
    "StoredDecision",
    "Totals",
    "TruthSource",
    "as_epoch",
]

GroupField = Literal[
    "outcome", "currency", "category", "billing_state", "detector_version", "card_bin"
]
GROUP_FIELDS: Final[tuple[str, ...]] = get_args(GroupField)
#: ``ttdf``: event time -> decision (``fd.ttdf``); ``queue_time``: appended to the input log ->
#: decision (the pipeline's own latency, meaningful with simulated event times);
#: ``frauddetector_time``: scoring; ``proc_time``: event time -> scoring start.
LatencyMetric = Literal["ttdf", "queue_time", "frauddetector_time", "proc_time"]
LATENCY_METRICS: Final[tuple[str, ...]] = get_args(LatencyMetric)
SearchField = Literal["any", "event_id", "entity_id", "email", "ip"]
SEARCH_FIELDS: Final[tuple[str, ...]] = get_args(SearchField)
EntityOrder = Literal["count", "amount", "blocked", "reviewed"]
#: ``simulator``: the ``simulator_truth`` topic only; ``analyst``: analyst labels only;
#: ``any``: the simulator's truth where known, else the analyst's label.
TruthSource = Literal["simulator", "analyst", "any"]
Label = Literal["fraud", "legit"]


def as_epoch(value: float | datetime | None, what: str = "time") -> float | None:
    """Epoch seconds from a number or an aware datetime (naive datetimes are rejected)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise SinkInputError(f"{what}: use an aware datetime (naive is ambiguous)")
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SinkInputError(f"{what}: expected epoch seconds or a datetime, got {value!r}")
    return float(value)


def _strings(values: Iterable[str] | str | None, what: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = (values,)
    out = tuple(values)
    if not all(isinstance(v, str) and v for v in out):
        raise SinkInputError(f"{what}: expected non-empty strings")
    return out


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    """Which decisions a query covers; every given condition must hold (empty = any).

    ``start``/``end`` bound ``event_time`` (``start <= t < end``); the tuples match any of
    their values; ``detector_versions`` are ``detector_version_id`` values.
    """

    start: float | None = None
    end: float | None = None
    outcomes: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    detector_versions: tuple[str, ...] = ()
    entity_id: str | None = None

    @classmethod
    def of(
        cls,
        *,
        start: float | datetime | None = None,
        end: float | datetime | None = None,
        outcomes: Iterable[str] | str | None = None,
        currencies: Iterable[str] | str | None = None,
        categories: Iterable[str] | str | None = None,
        detector_versions: Iterable[str] | str | None = None,
        entity_id: str | None = None,
    ) -> DecisionFilter:
        """A validated filter from loose arguments (datetimes, single strings)."""
        lo, hi = as_epoch(start, "start"), as_epoch(end, "end")
        if lo is not None and hi is not None and hi < lo:
            raise SinkInputError("end must not be before start")
        return cls(
            start=lo,
            end=hi,
            outcomes=_strings(outcomes, "outcomes"),
            currencies=tuple(c.upper() for c in _strings(currencies, "currencies")),
            categories=_strings(categories, "categories"),
            detector_versions=_strings(detector_versions, "detector_versions"),
            entity_id=entity_id or None,
        )


def _iso(value: float | None) -> str | None:
    return None if value is None else format_time(value)


class _Dict:
    """``to_dict()`` for result dataclasses: JSON-ready, with ISO copies of epoch fields."""

    __slots__ = ()
    _TIME_FIELDS: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = asdict(self)  # type: ignore[call-overload]
        for name in self._TIME_FIELDS:
            data[f"{name}_iso"] = _iso(data.get(name))
        return data


@dataclass(frozen=True, slots=True)
class OutcomeTotals(_Dict):
    count: int
    amount: float


@dataclass(frozen=True, slots=True)
class Totals(_Dict):
    """Headline numbers. ``amount`` sums ``transaction_amt`` over all currencies as numbers;
    ``fraud`` counts decisions whose truth (simulator or analyst) says fraud, ``labelled``
    those that have any truth."""

    count: int
    amount: float
    by_outcome: Mapping[str, OutcomeTotals]
    fraud: int
    labelled: int


@dataclass(frozen=True, slots=True)
class SeriesPoint(_Dict):
    """One time bucket ``[start, start + bucket)`` of one group (``key`` None: all)."""

    start: float
    key: str | None
    count: int
    amount: float

    _TIME_FIELDS = ("start",)


@dataclass(frozen=True, slots=True)
class Group(_Dict):
    """One value of a breakdown field; ``blocked``/``reviewed`` count those outcomes."""

    value: str | None
    count: int
    amount: float
    blocked: int
    reviewed: int


@dataclass(frozen=True, slots=True)
class EntityStats(_Dict):
    entity_id: str
    count: int
    amount: float
    blocked: int
    reviewed: int
    last_time: float

    _TIME_FIELDS = ("last_time",)


@dataclass(frozen=True, slots=True)
class LatencyPoint(_Dict):
    """Latency percentiles (ms) of one bucket (``start`` None: the whole range).

    ``percentiles`` maps the requested percentile (e.g. ``99.0``) to its value, computed like
    PostgreSQL's ``percentile_cont`` and numpy's default (linear interpolation)."""

    start: float | None
    count: int
    mean: float | None
    maximum: float | None
    percentiles: Mapping[float, float | None]

    _TIME_FIELDS = ("start",)

    def to_dict(self) -> dict[str, Any]:
        data = _Dict.to_dict(self)
        data["percentiles"] = {f"p{k:g}": v for k, v in self.percentiles.items()}
        return data


@dataclass(frozen=True, slots=True)
class ScoreBin(_Dict):
    """Decisions with ``low <= score < high``, per outcome."""

    low: float
    high: float
    count: int
    by_outcome: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Quality(_Dict):
    """The confusion matrix of decisions that have a truth; ``positive`` outcomes predict fraud.

    ``precision``/``recall`` are None when undefined (nothing predicted / no fraud known)."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def labelled(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def to_dict(self) -> dict[str, Any]:
        data = _Dict.to_dict(self)
        data.update(labelled=self.labelled, precision=self.precision, recall=self.recall)
        return data


@dataclass(frozen=True, slots=True)
class QualityPoint(_Dict):
    start: float
    quality: Quality

    _TIME_FIELDS = ("start",)

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "start_iso": _iso(self.start), **self.quality.to_dict()}


@dataclass(frozen=True, slots=True)
class AnalystLabel(_Dict):
    event_id: str
    label: str
    analyst: str | None
    note: str
    labelled_at: float

    _TIME_FIELDS = ("labelled_at",)


@dataclass(frozen=True, slots=True)
class DecisionSummary(_Dict):
    """One decision in a list (search results, an entity's history, the review queue)."""

    event_id: str
    entity_id: str
    event_time: float
    outcome: str | None
    score: float | None
    amount: float | None
    currency: str | None
    category: str | None
    email: str | None
    ip: str | None
    ttdf: float | None
    detector_version: str | None
    label: str | None
    #: ``fd.queue_time`` (None for decisions stored by a version that did not keep it).
    queue_time: float | None = None

    _TIME_FIELDS = ("event_time",)


@dataclass(frozen=True, slots=True)
class StoredDecision(_Dict):
    """One decision in full: the record as the processor wrote it (with ``fd``), where it was
    read from, its analyst label and the simulator's truth if known."""

    topic: str
    partition: int
    offset: int
    record: Mapping[str, Any]
    label: AnalystLabel | None = None
    is_fraud: bool | None = None
    fraud_kind: str | None = None

    @property
    def event_id(self) -> str:
        return str(self.record.get("event_id"))
