"""The query API in SQL shared by SQLite and PostgreSQL, with the few dialect differences as hooks.

One set of statements serves both databases: they are written with ``?`` placeholders (the
PostgreSQL store turns them into ``%s``), use only syntax both accept (``ON CONFLICT``,
``CAST``, ``CASE``, ``COALESCE``, ``TRUE``/``FALSE``), keep times as integer epoch
milliseconds (so a time bucket is an integer division, exact in both) and never put a ``?`` or
``%`` in a literal. What differs is a subclass hook: rounding a score down to its bin and
latency percentiles (``percentile_cont`` in PostgreSQL, the same interpolation in Python for
SQLite, which has no percentile function).

Identity and duplicates: the primary key is ``(topic, part, msg_offset)`` (a replayed message
is ignored) and ``(event_id, topic)`` is unique too, so when the at-least-once processor
re-emits a decision for an event it already decided, the first decision stays and the copy is
counted as a duplicate — the same rule the alert ledger applies (one alert per event id).
"""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, Final

import orjson

from fraudstream.sinks.base import DecisionStore
from fraudstream.sinks.errors import DecisionNotFound, SinkInputError
from fraudstream.sinks.queries import (
    GROUP_FIELDS,
    LATENCY_METRICS,
    SEARCH_FIELDS,
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
    OutcomeTotals,
    Quality,
    QualityPoint,
    ScoreBin,
    SearchField,
    SeriesPoint,
    StoredDecision,
    Totals,
    TruthSource,
)
from fraudstream.sinks.records import DecisionRow, TruthRow

__all__ = ["DECISION_COLUMNS", "MAX_LIMIT", "SqlDecisionStore", "like_pattern"]

#: The most rows one list query returns.
MAX_LIMIT: Final = 10_000
#: The highest code point: ``prefix <= x < prefix + TOP`` holds exactly for texts starting with
#: ``prefix`` under byte-wise (UTF-8 / "C") ordering.
_TOP: Final = "\U0010ffff"

DECISION_COLUMNS: Final[tuple[str, ...]] = (
    "topic",
    "part",
    "msg_offset",
    "event_id",
    "entity_id",
    "event_ms",
    "decision_ms",
    "outcome",
    "score",
    "amount",
    "currency",
    "category",
    "email",
    "ip",
    "card_bin",
    "billing_state",
    "latitude",
    "longitude",
    "ttdf",
    "proc_time",
    "fd_time",
    "queue_time",
    "detector_id",
    "detector_version",
    "duplicate",
    "rules",
    "record",
    "written_ms",
)
TRUTH_COLUMNS: Final[tuple[str, ...]] = (
    "event_id",
    "entity_id",
    "is_fraud",
    "kind",
    "event_ms",
    "topic",
    "part",
    "msg_offset",
)

INSERT_DECISION: Final = (
    f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in DECISION_COLUMNS)}) ON CONFLICT DO NOTHING"
)
INSERT_TRUTH: Final = (
    f"INSERT INTO truth ({', '.join(TRUTH_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in TRUTH_COLUMNS)}) ON CONFLICT DO NOTHING"
)
UPSERT_LABEL: Final = (
    "INSERT INTO labels (event_id, label, analyst, note, labelled_ms) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (event_id) DO UPDATE SET label = excluded.label, analyst = excluded.analyst,"
    " note = excluded.note, labelled_ms = excluded.labelled_ms"
)

_GROUP_COLUMNS: Final = {name: f"d.{name}" for name in GROUP_FIELDS}
_LATENCY_COLUMNS: Final = {
    "ttdf": "d.ttdf",
    "queue_time": "d.queue_time",
    "frauddetector_time": "d.fd_time",
    "proc_time": "d.proc_time",
}
_SEARCH_COLUMNS: Final = {
    "event_id": "d.event_id",
    "entity_id": "d.entity_id",
    "email": "d.email",
    "ip": "d.ip",
}
_SUMMARY: Final = (
    "d.event_id, d.entity_id, d.event_ms, d.outcome, d.score, d.amount, d.currency,"
    " d.category, d.email, d.ip, d.ttdf, d.detector_version, l.label, d.queue_time"
)
_JOIN_LABELS: Final = " LEFT JOIN labels l ON l.event_id = d.event_id"
_JOIN_TRUTH: Final = " LEFT JOIN truth t ON t.event_id = d.event_id"
_TRUTH_EXPR: Final = {
    "simulator": "t.is_fraud",
    "analyst": "(CASE l.label WHEN 'fraud' THEN TRUE WHEN 'legit' THEN FALSE END)",
    "any": "COALESCE(t.is_fraud, CASE l.label WHEN 'fraud' THEN TRUE WHEN 'legit' THEN FALSE END)",
}
_BLOCKED: Final = "SUM(CASE WHEN d.outcome = 'block' THEN 1 ELSE 0 END)"
_REVIEWED: Final = "SUM(CASE WHEN d.outcome = 'review' THEN 1 ELSE 0 END)"
_ENTITY_ORDER: Final = {
    "count": "COUNT(*)",
    "amount": "COALESCE(SUM(d.amount), 0)",
    "blocked": _BLOCKED,
    "reviewed": _REVIEWED,
}


def like_pattern(text: str) -> str:
    """``%text%`` for ``LIKE ... ESCAPE '\\'`` with ``%``, ``_`` and ``\\`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise SinkInputError(f"limit must be 1..{MAX_LIMIT}, got {limit!r}")
    return limit


def _bucket_ms(bucket: float) -> int:
    if isinstance(bucket, bool) or not isinstance(bucket, int | float) or not bucket >= 0.001:
        raise SinkInputError(f"bucket must be a positive number of seconds, got {bucket!r}")
    return max(1, round(bucket * 1000.0))


def _where(where: DecisionFilter | None, extra: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """``WHERE ...`` for a filter (on alias ``d``) plus extra conditions."""
    conditions = list(extra)
    params: list[Any] = []
    if where is not None:
        if where.start is not None:
            conditions.append("d.event_ms >= ?")
            params.append(round(where.start * 1000.0))
        if where.end is not None:
            conditions.append("d.event_ms < ?")
            params.append(round(where.end * 1000.0))
        for column, values in (
            ("d.outcome", where.outcomes),
            ("d.currency", where.currencies),
            ("d.category", where.categories),
            ("d.detector_version", where.detector_versions),
        ):
            if values:
                conditions.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if where.entity_id is not None:
            conditions.append("d.entity_id = ?")
            params.append(where.entity_id)
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", params


def _summary(row: Sequence[Any]) -> DecisionSummary:
    return DecisionSummary(
        event_id=row[0],
        entity_id=row[1],
        event_time=row[2] / 1000.0,
        outcome=row[3],
        score=row[4],
        amount=row[5],
        currency=row[6],
        category=row[7],
        email=row[8],
        ip=row[9],
        ttdf=row[10],
        detector_version=row[11],
        label=row[12],
        queue_time=row[13],
    )


def _check_positive(positive: Sequence[str]) -> tuple[str, ...]:
    values = (positive,) if isinstance(positive, str) else tuple(positive)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise SinkInputError("positive must name at least one outcome")
    return values


def _check_truth(truth: TruthSource) -> str:
    if truth not in _TRUTH_EXPR:
        raise SinkInputError(f"truth must be one of {sorted(_TRUTH_EXPR)}, got {truth!r}")
    return _TRUTH_EXPR[truth]


def decision_params(
    row: DecisionRow, written_ms: int, *, json_text: bool = True
) -> tuple[Any, ...]:
    """The INSERT parameters of a row (``record`` as text)."""
    return (
        row.topic,
        row.partition,
        row.offset,
        row.event_id,
        row.entity_id,
        row.event_ms,
        row.decision_ms,
        row.outcome,
        row.score,
        row.amount,
        row.currency,
        row.category,
        row.email,
        row.ip,
        row.card_bin,
        row.billing_state,
        row.latitude,
        row.longitude,
        row.ttdf,
        row.proc_time,
        row.fd_time,
        row.queue_time,
        row.detector_id,
        row.detector_version,
        row.duplicate,
        " ".join(row.rules),
        row.record.decode("utf-8", "replace") if json_text else row.record,
        written_ms,
    )


def truth_params(row: TruthRow) -> tuple[Any, ...]:
    return (
        row.event_id,
        row.entity_id,
        row.is_fraud,
        row.kind,
        row.event_ms,
        row.topic,
        row.partition,
        row.offset,
    )


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of sorted values, interpolated linearly between closest
    ranks (PostgreSQL's ``percentile_cont``, numpy's default)."""
    n = len(sorted_values)
    if n == 0:
        return None
    rank = (q / 100.0) * (n - 1)
    lo = int(rank)
    hi = min(lo + 1, n - 1)
    frac = rank - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


class SqlDecisionStore(DecisionStore):
    """The query API over a SQL connection; subclasses supply connection and dialect hooks."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    # -- hooks

    @abstractmethod
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read statement (``?`` placeholders)."""

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; the number of rows it changed."""

    @abstractmethod
    def _floor_div(self, expr: str) -> str:
        """SQL for ``floor(expr / ?)`` as an integer (one ``?``: a positive float)."""

    def _latency_rows(
        self,
        column: str,
        where_sql: str,
        params: list[Any],
        bucket_ms: int | None,
        fractions: Sequence[float],
    ) -> list[tuple[int | None, int, float | None, float | None, list[float | None]]]:
        """``(bucket_start_ms, count, mean, max, percentiles)`` per bucket. Default: fetch the
        values in order and interpolate here (SQLite)."""
        bucket = "(d.event_ms / CAST(? AS BIGINT)) * CAST(? AS BIGINT)" if bucket_ms else "0"
        bucket_params = [bucket_ms, bucket_ms] if bucket_ms else []
        rows = self._query(
            f"SELECT {bucket} AS b, {column} AS v FROM decisions d{where_sql} ORDER BY b, v",
            [*bucket_params, *params],
        )
        out: list[tuple[int | None, int, float | None, float | None, list[float | None]]] = []
        start = 0
        while start < len(rows):
            key = rows[start][0]
            end = start
            while end < len(rows) and rows[end][0] == key:
                end += 1
            values = [float(r[1]) for r in rows[start:end]]
            out.append(
                (
                    int(key) if bucket_ms else None,
                    len(values),
                    sum(values) / len(values),
                    values[-1],
                    [percentile(values, f * 100.0) for f in fractions],
                )
            )
            start = end
        return out

    # -- writing

    def _written_ms(self) -> int:
        return int(time.time() * 1000)

    # -- aggregates

    def count(self, where: DecisionFilter | None = None) -> int:
        where_sql, params = _where(where)
        rows = self._query(f"SELECT COUNT(*) FROM decisions d{where_sql}", params)
        return int(rows[0][0])

    def totals(self, where: DecisionFilter | None = None) -> Totals:
        where_sql, params = _where(where)
        by_outcome: dict[str, OutcomeTotals] = {}
        count, amount = 0, 0.0
        for outcome, n, total in self._query(
            f"SELECT d.outcome, COUNT(*), COALESCE(SUM(d.amount), 0) FROM decisions d{where_sql}"
            " GROUP BY d.outcome ORDER BY d.outcome",
            params,
        ):
            key = "none" if outcome is None else str(outcome)
            by_outcome[key] = OutcomeTotals(int(n), float(total))
            count += int(n)
            amount += float(total)
        truth = _TRUTH_EXPR["any"]
        fraud, labelled = self._query(
            f"SELECT COALESCE(SUM(CASE WHEN {truth} THEN 1 ELSE 0 END), 0),"
            f" COALESCE(SUM(CASE WHEN {truth} IS NOT NULL THEN 1 ELSE 0 END), 0)"
            f" FROM decisions d{_JOIN_TRUTH}{_JOIN_LABELS}{where_sql}",
            params,
        )[0]
        return Totals(count, amount, by_outcome, int(fraud), int(labelled))

    def timeseries(
        self,
        bucket: float,
        where: DecisionFilter | None = None,
        by: GroupField | None = "outcome",
    ) -> list[SeriesPoint]:
        size = _bucket_ms(bucket)
        key = "NULL" if by is None else self._group_column(by)
        where_sql, params = _where(where)
        rows = self._query(
            f"SELECT (d.event_ms / CAST(? AS BIGINT)) * CAST(? AS BIGINT) AS b, {key} AS k,"
            f" COUNT(*), COALESCE(SUM(d.amount), 0) FROM decisions d{where_sql}"
            " GROUP BY b, k ORDER BY b, k",
            [size, size, *params],
        )
        return [
            SeriesPoint(int(b) / 1000.0, None if k is None else str(k), int(n), float(a))
            for b, k, n, a in rows
        ]

    @staticmethod
    def _group_column(field: str) -> str:
        if field not in _GROUP_COLUMNS:
            raise SinkInputError(f"cannot group by {field!r}; use one of {list(GROUP_FIELDS)}")
        return _GROUP_COLUMNS[field]

    def breakdown(
        self, field: GroupField, where: DecisionFilter | None = None, limit: int = 20
    ) -> list[Group]:
        column = self._group_column(field)
        where_sql, params = _where(where)
        rows = self._query(
            f"SELECT {column} AS k, COUNT(*) AS n, COALESCE(SUM(d.amount), 0), {_BLOCKED},"
            f" {_REVIEWED} FROM decisions d{where_sql} GROUP BY k ORDER BY n DESC, k LIMIT ?",
            [*params, _limit(limit)],
        )
        return [
            Group(None if k is None else str(k), int(n), float(a), int(b), int(r))
            for k, n, a, b, r in rows
        ]

    def top_entities(
        self, where: DecisionFilter | None = None, by: EntityOrder = "count", limit: int = 10
    ) -> list[EntityStats]:
        if by not in _ENTITY_ORDER:
            raise SinkInputError(f"by must be one of {sorted(_ENTITY_ORDER)}, got {by!r}")
        where_sql, params = _where(where)
        rows = self._query(
            f"SELECT d.entity_id, COUNT(*), COALESCE(SUM(d.amount), 0), {_BLOCKED}, {_REVIEWED},"
            f" MAX(d.event_ms) FROM decisions d{where_sql} GROUP BY d.entity_id"
            f" ORDER BY {_ENTITY_ORDER[by]} DESC, d.entity_id LIMIT ?",
            [*params, _limit(limit)],
        )
        return [
            EntityStats(str(e), int(n), float(a), int(b), int(r), int(last) / 1000.0)
            for e, n, a, b, r, last in rows
        ]

    def latency(
        self,
        where: DecisionFilter | None = None,
        bucket: float | None = None,
        metric: LatencyMetric = "ttdf",
        percentiles: Sequence[float] = (50.0, 90.0, 99.0),
    ) -> list[LatencyPoint]:
        if metric not in _LATENCY_COLUMNS:
            raise SinkInputError(f"metric must be one of {list(LATENCY_METRICS)}, got {metric!r}")
        wanted = [float(p) for p in percentiles]
        if not all(0.0 <= p <= 100.0 for p in wanted):
            raise SinkInputError("percentiles must be within 0..100")
        column = _LATENCY_COLUMNS[metric]
        where_sql, params = _where(where, [f"{column} IS NOT NULL"])
        size = None if bucket is None else _bucket_ms(bucket)
        rows = self._latency_rows(column, where_sql, params, size, [p / 100.0 for p in wanted])
        return [
            LatencyPoint(
                None if start is None else start / 1000.0,
                n,
                mean,
                peak,
                dict(zip(wanted, values, strict=True)),
            )
            for start, n, mean, peak, values in rows
        ]

    def score_histogram(
        self, where: DecisionFilter | None = None, bin_width: float = 50.0
    ) -> list[ScoreBin]:
        if isinstance(bin_width, bool) or not isinstance(bin_width, int | float) or bin_width <= 0:
            raise SinkInputError(f"bin_width must be a positive number, got {bin_width!r}")
        where_sql, params = _where(where, ["d.score IS NOT NULL"])
        rows = self._query(
            f"SELECT {self._floor_div('d.score')} AS bin, d.outcome, COUNT(*)"
            f" FROM decisions d{where_sql} GROUP BY bin, d.outcome ORDER BY bin, d.outcome",
            [float(bin_width), *params],
        )
        bins: dict[int, dict[str, int]] = {}
        for index, outcome, n in rows:
            counts = bins.setdefault(int(index), {})
            key = "none" if outcome is None else str(outcome)
            counts[key] = counts.get(key, 0) + int(n)
        return [
            ScoreBin(i * bin_width, (i + 1) * bin_width, sum(c.values()), c)
            for i, c in sorted(bins.items())
        ]

    def _quality_rows(
        self,
        bucket_ms: int | None,
        where: DecisionFilter | None,
        positive: Sequence[str],
        truth: TruthSource,
    ) -> list[tuple[Any, ...]]:
        values = _check_positive(positive)
        truth_sql = _check_truth(truth)
        pred = f"(d.outcome IS NOT NULL AND d.outcome IN ({', '.join('?' for _ in values)}))"
        where_sql, params = _where(where, [f"{truth_sql} IS NOT NULL"])
        cases = [
            f"COALESCE(SUM(CASE WHEN {p} AND {t} THEN 1 ELSE 0 END), 0)"
            for p, t in (
                (pred, truth_sql),
                (pred, f"NOT {truth_sql}"),
                (f"NOT {pred}", truth_sql),
                (f"NOT {pred}", f"NOT {truth_sql}"),
            )
        ]
        case_params = list(values) * 4
        if bucket_ms is None:
            return self._query(
                f"SELECT {', '.join(cases)} FROM decisions d{_JOIN_TRUTH}{_JOIN_LABELS}{where_sql}",
                [*case_params, *params],
            )
        return self._query(
            "SELECT (d.event_ms / CAST(? AS BIGINT)) * CAST(? AS BIGINT) AS b,"
            f" {', '.join(cases)} FROM decisions d{_JOIN_TRUTH}{_JOIN_LABELS}{where_sql}"
            " GROUP BY b ORDER BY b",
            [bucket_ms, bucket_ms, *case_params, *params],
        )

    def quality(
        self,
        where: DecisionFilter | None = None,
        positive: Sequence[str] = ("block",),
        truth: TruthSource = "any",
    ) -> Quality:
        tp, fp, fn, tn = self._quality_rows(None, where, positive, truth)[0]
        return Quality(int(tp), int(fp), int(fn), int(tn))

    def quality_series(
        self,
        bucket: float,
        where: DecisionFilter | None = None,
        positive: Sequence[str] = ("block",),
        truth: TruthSource = "any",
    ) -> list[QualityPoint]:
        rows = self._quality_rows(_bucket_ms(bucket), where, positive, truth)
        return [
            QualityPoint(int(b) / 1000.0, Quality(int(tp), int(fp), int(fn), int(tn)))
            for b, tp, fp, fn, tn in rows
        ]

    # -- single decisions and lists

    def get(self, event_id: str) -> StoredDecision | None:
        rows = self._query(
            "SELECT d.topic, d.part, d.msg_offset, d.record, l.label, l.analyst, l.note,"
            f" l.labelled_ms, t.is_fraud, t.kind FROM decisions d{_JOIN_LABELS}{_JOIN_TRUTH}"
            " WHERE d.event_id = ? ORDER BY d.event_ms, d.topic LIMIT 1",
            [event_id],
        )
        if not rows:
            return None
        topic, part, offset, record, label, analyst, note, labelled_ms, is_fraud, kind = rows[0]
        if isinstance(record, str | bytes):
            record = orjson.loads(record)
        return StoredDecision(
            topic=str(topic),
            partition=int(part),
            offset=int(offset),
            record=record,
            label=None
            if label is None
            else AnalystLabel(event_id, str(label), analyst, note or "", labelled_ms / 1000.0),
            is_fraud=None if is_fraud is None else bool(is_fraud),
            fraud_kind=kind,
        )

    def _summaries(
        self,
        where: DecisionFilter | None,
        extra: Sequence[str],
        extra_params: Sequence[Any],
        order: str,
        limit: int,
    ) -> list[DecisionSummary]:
        where_sql, params = _where(where, extra)
        # Extra conditions come first in the WHERE clause, so their parameters do too.
        rows = self._query(
            f"SELECT {_SUMMARY} FROM decisions d{_JOIN_LABELS}{where_sql} ORDER BY {order} LIMIT ?",
            [*extra_params, *params, _limit(limit)],
        )
        return [_summary(r) for r in rows]

    def recent(
        self, where: DecisionFilter | None = None, limit: int = 50, before: float | None = None
    ) -> list[DecisionSummary]:
        extra, extra_params = [], []
        if before is not None:
            extra.append("d.event_ms < ?")
            extra_params.append(round(before * 1000.0))
        return self._summaries(
            where, extra, extra_params, "d.event_ms DESC, d.event_id DESC", limit
        )

    def entity_decisions(
        self, entity_id: str, limit: int = 50, before: float | None = None
    ) -> list[DecisionSummary]:
        if not entity_id:
            raise SinkInputError("entity_id must not be empty")
        return self.recent(DecisionFilter(entity_id=entity_id), limit, before)

    def search(
        self,
        text: str,
        field: SearchField = "any",
        mode: str = "prefix",
        where: DecisionFilter | None = None,
        limit: int = 50,
    ) -> list[DecisionSummary]:
        if not isinstance(text, str) or not text.strip():
            raise SinkInputError("search text must not be empty")
        if field not in SEARCH_FIELDS:
            raise SinkInputError(f"field must be one of {list(SEARCH_FIELDS)}, got {field!r}")
        if mode not in ("prefix", "substring"):
            raise SinkInputError(f"mode must be 'prefix' or 'substring', got {mode!r}")
        text = text.strip()
        columns = list(_SEARCH_COLUMNS.values()) if field == "any" else [_SEARCH_COLUMNS[field]]
        parts: list[str] = []
        params: list[Any] = []
        for column in columns:
            # E-mail addresses are stored lower-cased (the schema normalises them).
            term = text.lower() if column == "d.email" else text
            if mode == "prefix":
                parts.append(f"({column} >= ? AND {column} < ?)")
                params.extend([term, term + _TOP])
            else:
                parts.append(f"lower({column}) LIKE ? ESCAPE '\\'")
                params.append(like_pattern(term.lower()))
        condition = "(" + " OR ".join(parts) + ")"
        return self._summaries(
            where, [condition], params, "d.event_ms DESC, d.event_id DESC", limit
        )

    def review_queue(
        self, where: DecisionFilter | None = None, limit: int = 50, oldest_first: bool = True
    ) -> list[DecisionSummary]:
        order = "d.event_ms, d.event_id" if oldest_first else "d.event_ms DESC, d.event_id DESC"
        return self._summaries(
            where, ["d.outcome = 'review'", "l.event_id IS NULL"], [], order, limit
        )

    def set_label(
        self, event_id: str, label: Label, analyst: str | None = None, note: str = ""
    ) -> AnalystLabel:
        if label not in ("fraud", "legit"):
            raise SinkInputError(f"label must be 'fraud' or 'legit', got {label!r}")
        if len(note) > 2000 or (analyst is not None and len(analyst) > 200):
            raise SinkInputError("note (2000) or analyst (200 characters) too long")
        with self._lock:
            if not self._query(
                "SELECT 1 FROM decisions d WHERE d.event_id = ? LIMIT 1", [event_id]
            ):
                raise DecisionNotFound(f"no decision for event id {event_id[:128]!r}")
            now = self._written_ms()
            self._execute(UPSERT_LABEL, [event_id, label, analyst, note, now])
        return AnalystLabel(event_id, label, analyst, note, now / 1000.0)
