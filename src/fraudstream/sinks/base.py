"""The sink and store contracts: an abstract base beside its implementations.

* :class:`DecisionSink` — where the sink consumer writes batches of decisions and ground truth.
  Writes are idempotent: a row's identity is ``(topic, partition, offset)``, so a replay or a
  restart after a crash writes nothing twice. :class:`~fraudstream.sinks.opensearch.OpenSearchSink`
  is only a sink (OpenSearch Dashboards does its own querying).
* :class:`DecisionStore` — a sink that can also answer the dashboard's queries:
  :class:`~fraudstream.sinks.sqlite.SQLiteDecisionStore` (embedded default) and
  :class:`~fraudstream.sinks.postgres.PostgresDecisionStore`. The query methods are documented
  in :mod:`fraudstream.sinks`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from fraudstream.sinks.queries import (
    AnalystLabel,
    DecisionFilter,
    DecisionSummary,
    EntityOrder,
    EntityStats,
    Group,
    GroupField,
    Label,
    LatencyMetric,
    LatencyPoint,
    Quality,
    QualityPoint,
    ScoreBin,
    SearchField,
    SeriesPoint,
    StoredDecision,
    Totals,
    TruthSource,
)
from fraudstream.sinks.records import Batch

__all__ = ["DecisionSink", "DecisionStore", "WriteResult"]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: rows new to the store, rows it already had (replays, and later copies
    of an event id the processor re-emitted), and rows the store refused (counted, logged)."""

    written: int = 0
    duplicates: int = 0
    rejected: int = 0


class DecisionSink(ABC):
    """Receives batches of decisions and truth; see the module docs."""

    @abstractmethod
    def write(self, batch: Batch) -> WriteResult:
        """Durably write ``batch`` (all of it or, on an exception, possibly part of it: the
        caller writes it again, which is harmless). Raises
        :class:`~fraudstream.sinks.errors.SinkUnavailable` when retrying may help."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. Safe to call twice."""

    @abstractmethod
    def describe(self) -> str:
        """Where this sink writes, safe to log (no passwords)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class DecisionStore(DecisionSink):
    """A sink that answers queries (see :mod:`fraudstream.sinks` for each method's contract).

    ``where`` is a :class:`~fraudstream.sinks.queries.DecisionFilter` (None: everything).
    Thread-safety: an instance may be shared by threads (implementations serialise access).
    """

    # -- aggregates

    @abstractmethod
    def totals(self, where: DecisionFilter | None = None) -> Totals: ...

    @abstractmethod
    def timeseries(
        self,
        bucket: float,
        where: DecisionFilter | None = None,
        by: GroupField | None = "outcome",
    ) -> list[SeriesPoint]: ...

    @abstractmethod
    def breakdown(
        self, field: GroupField, where: DecisionFilter | None = None, limit: int = 20
    ) -> list[Group]: ...

    @abstractmethod
    def top_entities(
        self, where: DecisionFilter | None = None, by: EntityOrder = "count", limit: int = 10
    ) -> list[EntityStats]: ...

    @abstractmethod
    def latency(
        self,
        where: DecisionFilter | None = None,
        bucket: float | None = None,
        metric: LatencyMetric = "ttdf",
        percentiles: Sequence[float] = (50.0, 90.0, 99.0),
    ) -> list[LatencyPoint]: ...

    @abstractmethod
    def score_histogram(
        self, where: DecisionFilter | None = None, bin_width: float = 50.0
    ) -> list[ScoreBin]: ...

    @abstractmethod
    def quality(
        self,
        where: DecisionFilter | None = None,
        positive: Sequence[str] = ("block",),
        truth: TruthSource = "any",
    ) -> Quality: ...

    @abstractmethod
    def quality_series(
        self,
        bucket: float,
        where: DecisionFilter | None = None,
        positive: Sequence[str] = ("block",),
        truth: TruthSource = "any",
    ) -> list[QualityPoint]: ...

    # -- single decisions and lists

    @abstractmethod
    def get(self, event_id: str) -> StoredDecision | None: ...

    @abstractmethod
    def recent(
        self, where: DecisionFilter | None = None, limit: int = 50, before: float | None = None
    ) -> list[DecisionSummary]: ...

    @abstractmethod
    def entity_decisions(
        self, entity_id: str, limit: int = 50, before: float | None = None
    ) -> list[DecisionSummary]: ...

    @abstractmethod
    def search(
        self,
        text: str,
        field: SearchField = "any",
        mode: str = "prefix",
        where: DecisionFilter | None = None,
        limit: int = 50,
    ) -> list[DecisionSummary]: ...

    @abstractmethod
    def review_queue(
        self, where: DecisionFilter | None = None, limit: int = 50, oldest_first: bool = True
    ) -> list[DecisionSummary]: ...

    @abstractmethod
    def set_label(
        self, event_id: str, label: Label, analyst: str | None = None, note: str = ""
    ) -> AnalystLabel: ...

    @abstractmethod
    def count(self, where: DecisionFilter | None = None) -> int: ...
