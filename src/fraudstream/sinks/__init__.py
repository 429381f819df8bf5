"""Decision sinks: every decision in a searchable store, and the query API the dashboard uses.

The reference system indexed every ``processed_transactions`` record into OpenSearch with Kafka
Connect. Here the :class:`~fraudstream.sinks.consumer.SinkConsumer` (``fraudstream sink``) reads
that topic — and ``simulator_truth`` when it exists — in its own consumer group and writes
batches (500 records or 1 s, whichever first) to a sink, committing offsets only after the
sink wrote the batch:

* :class:`SQLiteDecisionStore` — embedded default, ``<home>/decisions.db`` (WAL);
* :class:`PostgresDecisionStore` — ``postgres://...`` (psycopg 3);
* :class:`~fraudstream.sinks.opensearch.OpenSearchSink` — ``opensearch://...``: write-only,
  bulk-indexed with ``_id = topic+partition+offset``; see ``docs/opensearch/``.

Writes are idempotent (identity ``(topic, partition, offset)``), so replays and restarts never
duplicate a row. In the SQL stores ``(event_id, topic)`` is unique too: when the at-least-once
processor re-emits a decision for an event it already decided, the first decision is kept.

Opening a store::

    from fraudstream.sinks import open_store, DecisionFilter
    store = open_store("sqlite", home)            # or "postgres://app@db:5432/fraud"
    store = SQLiteDecisionStore.in_home(home)     # the same, explicitly

Query API (:class:`DecisionStore`; both SQL stores give identical answers)
--------------------------------------------------------------------------
Conventions: the time axis is the transaction's ``event_time``. Time arguments are epoch
seconds (``float``) or aware ``datetime``; results carry epoch seconds, and every result type
has ``to_dict()`` (JSON-ready, with ``*_iso`` copies of time fields). ``where`` is a
:class:`DecisionFilter` (``None``: all decisions); build it with ``DecisionFilter.of(start=...,
end=..., outcomes=..., currencies=..., categories=..., detector_versions=..., entity_id=...)``:
``start <= event_time < end``, each tuple matches any of its values, all conditions must hold.
Bad arguments raise :class:`SinkInputError` (an ``InvalidInput``: HTTP 400); a database that
is down raises :class:`SinkUnavailable` (HTTP 503). List methods take ``limit`` 1..10,000.
Amount sums add ``transaction_amt`` as numbers across currencies: group or filter by currency
for money. Outcome ``None`` (no rule matched) is reported as ``"none"`` in per-outcome maps.

Aggregates:

``totals(where) -> Totals``
    ``count``, ``amount``, ``by_outcome: {outcome: OutcomeTotals(count, amount)}``, ``fraud``
    (decisions whose truth says fraud: the simulator's truth, else an analyst label) and
    ``labelled`` (decisions with any truth). The reference dashboard's tiles: transactions =
    ``count``; revenue = ``amount - by_outcome["block"].amount``; blocked revenue =
    ``by_outcome["block"].amount``; fraud = ``fraud`` (or ``by_outcome["block"].count``).
``timeseries(bucket, where, by="outcome") -> list[SeriesPoint]``
    Counts and amount sums per ``bucket``-second bucket (aligned to the epoch:
    ``start = floor(t / bucket) * bucket``) and per value of ``by`` (a :data:`GroupField`:
    ``outcome``, ``currency``, ``category``, ``billing_state``, ``detector_version``,
    ``card_bin``; ``None``: one series, ``key=None``). Sorted by ``(start, key)``; empty
    buckets are absent.
``breakdown(field, where, limit=20) -> list[Group]``
    Per value of ``field``: ``count``, ``amount``, ``blocked``, ``reviewed``; most frequent
    first (ties by value).
``top_entities(where, by="count"|"amount"|"blocked"|"reviewed", limit=10) -> list[EntityStats]``
    Entities (customers) with ``count``, ``amount``, ``blocked``, ``reviewed``, ``last_time``,
    highest ``by`` first.
``latency(where, bucket=None, metric="ttdf", percentiles=(50, 90, 99)) -> list[LatencyPoint]``
    Milliseconds; ``metric`` is ``"ttdf"`` (``fd.ttdf``: event time -> decision),
    ``"queue_time"`` (``fd.queue_time``: input appended to the log -> decision, meaningful
    when event times are simulated; NULL in rows an older version stored),
    ``"frauddetector_time"`` (``fd.frauddetector_time``: scoring) or ``"proc_time"``
    (``fd.proc_time``). One point for the whole range (``bucket=None``, ``start``
    None) or one per bucket: ``count``, ``mean``, ``maximum``, ``percentiles: {50.0: ms, ...}``
    (linear interpolation, as PostgreSQL ``percentile_cont`` and numpy). No rows: ``[]``.
``score_histogram(where, bin_width=50) -> list[ScoreBin]``
    Decisions per score bin ``[low, high)`` (the first model score, 0-1000) with
    ``by_outcome`` counts; empty bins are absent.
``quality(where, positive=("block",), truth="any") -> Quality``
    The confusion matrix (``tp``, ``fp``, ``fn``, ``tn``; ``precision``, ``recall`` None when
    undefined) of the decisions that have a truth; a decision whose outcome is in ``positive``
    predicts fraud. ``truth``: ``"simulator"`` (the ``simulator_truth`` topic), ``"analyst"``
    (labels set with :meth:`set_label`) or ``"any"`` (simulator, else analyst).
``quality_series(bucket, where, positive, truth) -> list[QualityPoint]``
    The same per time bucket (live precision/recall over time).
``count(where) -> int``

Single decisions and lists (lists are :class:`DecisionSummary`: ``event_id``, ``entity_id``,
``event_time``, ``outcome``, ``score``, ``amount``, ``currency``, ``category``, ``email``,
``ip``, ``ttdf``, ``detector_version``, ``label``, ``queue_time``):

``get(event_id) -> StoredDecision | None``
    The full record as the processor wrote it (``record``, with ``fd``: rules, reasons,
    scores...), where it was read from (``topic``, ``partition``, ``offset``), the analyst
    ``label`` (:class:`AnalystLabel` or None) and the simulator's ``is_fraud``/``fraud_kind``.
``recent(where, limit=50, before=None)``
    Newest first; ``before`` (epoch s) pages backwards: pass the last row's ``event_time``.
``entity_decisions(entity_id, limit=50, before=None)``
    One entity's decisions, newest first.
``search(text, field="any", mode="prefix", where, limit=50)``
    ``field``: ``"any"``, ``"event_id"``, ``"entity_id"``, ``"email"`` or ``"ip"``; ``mode``:
    ``"prefix"`` or ``"substring"``.
    ``prefix`` is exact-case and uses indexes (e-mail addresses are matched lower-cased);
    ``substring`` is case-insensitive and scans. Newest first.
``review_queue(where, limit=50, oldest_first=True)``
    Decisions with outcome ``review`` and no analyst label yet.
``set_label(event_id, "fraud"|"legit", analyst=None, note="") -> AnalystLabel``
    Sets (or replaces) the analyst's label; the decision leaves the review queue and counts in
    ``quality(truth="analyst"|"any")``. Unknown event id: :class:`DecisionNotFound` (404).

Thread-safety: a store instance may be shared by threads (it serialises its connection);
open one per process.
"""

from __future__ import annotations

from fraudstream.sinks.base import DecisionSink, DecisionStore, WriteResult
from fraudstream.sinks.consumer import SinkConsumer, SinkSettings, SinkStats
from fraudstream.sinks.errors import DecisionNotFound, SinkError, SinkInputError, SinkUnavailable
from fraudstream.sinks.queries import (
    GROUP_FIELDS,
    AnalystLabel,
    DecisionFilter,
    DecisionSummary,
    EntityStats,
    Group,
    GroupField,
    LatencyPoint,
    OutcomeTotals,
    Quality,
    QualityPoint,
    ScoreBin,
    SeriesPoint,
    StoredDecision,
    Totals,
)
from fraudstream.sinks.records import Batch, DecisionRow, TruthRow, build_batch
from fraudstream.sinks.sqlite import SQLiteDecisionStore
from fraudstream.sinks.url import open_sink, open_store, redact_url

__all__ = [
    "GROUP_FIELDS",
    "AnalystLabel",
    "Batch",
    "DecisionFilter",
    "DecisionNotFound",
    "DecisionRow",
    "DecisionSink",
    "DecisionStore",
    "DecisionSummary",
    "EntityStats",
    "Group",
    "GroupField",
    "LatencyPoint",
    "OutcomeTotals",
    "PostgresDecisionStore",
    "Quality",
    "QualityPoint",
    "SQLiteDecisionStore",
    "ScoreBin",
    "SeriesPoint",
    "SinkConsumer",
    "SinkError",
    "SinkInputError",
    "SinkSettings",
    "SinkStats",
    "SinkUnavailable",
    "StoredDecision",
    "Totals",
    "TruthRow",
    "WriteResult",
    "build_batch",
    "open_sink",
    "open_store",
    "redact_url",
]


def __getattr__(name: str) -> object:
    # Imported lazily: psycopg is only needed by those who use PostgreSQL.
    if name == "PostgresDecisionStore":
        from fraudstream.sinks.postgres import PostgresDecisionStore

        return PostgresDecisionStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
