"""The PostgreSQL decision store (psycopg 3), for a shared dashboard and long retention.

The same statements as the SQLite store (:mod:`fraudstream.sinks.sql`); PostgreSQL types:
times are ``BIGINT`` epoch milliseconds (exact buckets by integer division; convert with
``to_timestamp(event_ms / 1000.0)`` in ad-hoc SQL), the record is ``JSONB``, and the searchable
identifiers use ``COLLATE "C"`` so prefix searches are index range scans under any database
locale. Latency percentiles are computed by the server (``percentile_cont``). PostgreSQL text
cannot hold NUL characters, so they are stored as U+FFFD (in columns and in the JSON).

The connection string is a libpq URL or key/value string; keep the password out of it and in
``PGPASSWORD`` or ``~/.pgpass`` (libpq reads them). A lost connection raises
:class:`~fraudstream.sinks.errors.SinkUnavailable` and the next call reconnects. A batch is
one transaction; if the server refuses it for its data, its rows are retried one by one and
those refused are counted as rejected (logged by position, never by content) instead of
blocking the stream. Server messages are never logged whole: they may quote card data.

A database written by an older version is brought up to date when the store opens it
(columns added since, :data:`ADDED_COLUMNS`, are added in place, NULL in existing rows). The
column list is read first, so opening an up-to-date database takes no table lock.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

import orjson
import psycopg

from fraudstream.sinks.base import WriteResult
from fraudstream.sinks.errors import SinkError, SinkUnavailable
from fraudstream.sinks.records import Batch, DecisionRow
from fraudstream.sinks.sql import (
    INSERT_DECISION,
    INSERT_TRUTH,
    SqlDecisionStore,
    decision_params,
    truth_params,
)
from fraudstream.sinks.url import redact_url

__all__ = ["PostgresDecisionStore"]

log = logging.getLogger(__name__)

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS decisions (
    topic TEXT COLLATE "C" NOT NULL, part INTEGER NOT NULL, msg_offset BIGINT NOT NULL,
    event_id TEXT COLLATE "C" NOT NULL, entity_id TEXT COLLATE "C" NOT NULL,
    event_ms BIGINT NOT NULL, decision_ms BIGINT,
    outcome TEXT, score DOUBLE PRECISION, amount DOUBLE PRECISION, currency TEXT,
    category TEXT, email TEXT COLLATE "C", ip TEXT COLLATE "C", card_bin BIGINT,
    billing_state TEXT, latitude DOUBLE PRECISION, longitude DOUBLE PRECISION,
    ttdf DOUBLE PRECISION, proc_time DOUBLE PRECISION, fd_time DOUBLE PRECISION,
    queue_time DOUBLE PRECISION,
    detector_id TEXT, detector_version TEXT, duplicate BOOLEAN NOT NULL,
    rules TEXT NOT NULL, record JSONB NOT NULL, written_ms BIGINT NOT NULL,
    PRIMARY KEY (topic, part, msg_offset)
);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_event ON decisions (event_id, topic);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (event_ms);
CREATE INDEX IF NOT EXISTS decisions_entity ON decisions (entity_id, event_ms);
CREATE INDEX IF NOT EXISTS decisions_outcome ON decisions (outcome, event_ms);
CREATE INDEX IF NOT EXISTS decisions_email ON decisions (email);
CREATE INDEX IF NOT EXISTS decisions_ip ON decisions (ip);
CREATE TABLE IF NOT EXISTS truth (
    event_id TEXT COLLATE "C" PRIMARY KEY, entity_id TEXT, is_fraud BOOLEAN NOT NULL,
    kind TEXT, event_ms BIGINT, topic TEXT NOT NULL, part INTEGER NOT NULL,
    msg_offset BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
    event_id TEXT COLLATE "C" PRIMARY KEY, label TEXT NOT NULL, analyst TEXT,
    note TEXT NOT NULL, labelled_ms BIGINT NOT NULL
);
"""

#: Columns of ``decisions`` added after the first schema, with their types.
ADDED_COLUMNS: Final[tuple[tuple[str, str], ...]] = (("queue_time", "DOUBLE PRECISION"),)


def _error(exc: psycopg.Error) -> str:
    """A server error without its DETAIL/CONTEXT lines, which may quote row values."""
    primary = exc.diag.message_primary if exc.diag is not None else None
    if not primary:
        lines = str(exc).strip().splitlines()
        primary = lines[0] if lines else ""
    return f"{type(exc).__name__}: {primary}"


def _clean(row: DecisionRow) -> DecisionRow:
    """``row`` without NUL characters (PostgreSQL text and JSONB cannot hold them)."""
    if b"\\u0000" not in row.record and not any(
        isinstance(v, str) and "\x00" in v for v in (row.email, row.ip, row.entity_id, row.event_id)
    ):
        return row

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("\x00", "\ufffd")
        if isinstance(value, dict):
            return {fix(k): fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    changes = {
        name: fix(getattr(row, name))
        for name in ("event_id", "entity_id", "email", "ip", "currency", "category",
                     "billing_state", "outcome", "detector_id", "detector_version")
    }  # fmt: skip
    return replace(row, record=orjson.dumps(fix(orjson.loads(row.record))), **changes)


def _migrate(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Add the columns an older ``decisions`` table lacks (in the caller's transaction)."""
    present = {
        str(row[0])
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'decisions'"
        )
    }
    for name, kind in ADDED_COLUMNS:
        if name not in present:
            log.info("decision store: adding column decisions.%s", name)
            conn.execute(f"ALTER TABLE decisions ADD COLUMN IF NOT EXISTS {name} {kind}")


def _pg(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (no literal ``%`` or ``?`` in our SQL)."""
    return sql.replace("%", "%%").replace("?", "%s")


_INSERT_DECISION: Final = _pg(INSERT_DECISION)
_INSERT_TRUTH: Final = _pg(INSERT_TRUTH)


class PostgresDecisionStore(SqlDecisionStore):
    """Decisions in PostgreSQL (see the module docs). Thread-safe (one connection, a lock)."""

    def __init__(self, conninfo: str, *, connect_timeout: float = 10.0) -> None:
        super().__init__()
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._closed = False
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    # Serialise concurrent first starts: CREATE ... IF NOT EXISTS still races.
                    conn.execute("SELECT pg_advisory_xact_lock(74207511)")
                    conn.execute(SCHEMA)
                    _migrate(conn)
            except psycopg.OperationalError as exc:
                self._drop()
                raise SinkUnavailable(f"{self.describe()}: {_error(exc)}") from exc
            except psycopg.Error as exc:
                msg = f"{self.describe()}: cannot create the schema: {_error(exc)}"
                raise SinkError(msg) from exc

    def describe(self) -> str:
        return redact_url(self._conninfo)

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._closed:
            raise SinkUnavailable("the decision store is closed")
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=max(1, round(self._connect_timeout)),
                    application_name="fraudstream-sink",
                )
            except psycopg.OperationalError as exc:
                msg = f"cannot connect to {self.describe()}: {_error(exc)}"
                raise SinkUnavailable(msg) from exc
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()

    # -- hooks

    def _run(self, sql: str, params: Sequence[Any], fetch: bool) -> Any:
        with self._lock:
            conn = self._connection()
            try:
                cur = conn.execute(_pg(sql), tuple(params))
                return cur.fetchall() if fetch else cur.rowcount
            except psycopg.OperationalError as exc:
                self._drop()
                raise SinkUnavailable(f"{self.describe()}: {_error(exc)}") from exc
            except psycopg.Error as exc:
                raise SinkError(f"decision store query failed: {_error(exc)}") from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._run(sql, params, True)
        return rows

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        count: int = self._run(sql, params, False)
        return count

    def _floor_div(self, expr: str) -> str:
        return f"CAST(floor({expr} / ?) AS BIGINT)"

    def _latency_rows(
        self,
        column: str,
        where_sql: str,
        params: list[Any],
        bucket_ms: int | None,
        fractions: Sequence[float],
    ) -> list[tuple[int | None, int, float | None, float | None, list[float | None]]]:
        bucket = "(d.event_ms / CAST(? AS BIGINT)) * CAST(? AS BIGINT)" if bucket_ms else "0"
        bucket_params = [bucket_ms, bucket_ms] if bucket_ms else []
        rows = self._query(
            "SELECT b, COUNT(*), AVG(v), MAX(v),"
            " percentile_cont(CAST(? AS DOUBLE PRECISION[])) WITHIN GROUP (ORDER BY v)"
            f" FROM (SELECT {bucket} AS b, {column} AS v FROM decisions d{where_sql}) s"
            " GROUP BY b ORDER BY b",
            [list(fractions), *bucket_params, *params],
        )
        return [
            (
                int(b) if bucket_ms else None,
                int(n),
                None if mean is None else float(mean),
                None if peak is None else float(peak),
                [None if v is None else float(v) for v in values],
            )
            for b, n, mean, peak, values in rows
        ]

    # -- writing

    def write(self, batch: Batch) -> WriteResult:
        if not batch.decisions and not batch.truths:
            return WriteResult(rejected=len(batch.rejected))
        now = self._written_ms()
        with self._lock:
            conn = self._connection()
            try:
                try:
                    written = self._insert(conn, batch.decisions, batch, now)
                    refused = 0
                except psycopg.DataError as exc:
                    log.warning("a batch was refused (%s); writing it row by row", _error(exc))
                    written, refused = self._insert_one_by_one(conn, batch, now)
            except psycopg.OperationalError as exc:
                self._drop()
                raise SinkUnavailable(f"{self.describe()}: {_error(exc)}") from exc
            except psycopg.Error as exc:
                raise SinkError(f"decision store write failed: {_error(exc)}") from exc
        duplicates = len(batch.decisions) - written - refused
        return WriteResult(written, duplicates, len(batch.rejected) + refused)

    @staticmethod
    def _insert(
        conn: psycopg.Connection[tuple[Any, ...]],
        rows: Sequence[DecisionRow],
        batch: Batch,
        now: int,
    ) -> int:
        with conn.transaction(), conn.cursor() as cur:
            written = 0
            if rows:
                cur.executemany(_INSERT_DECISION, [decision_params(_clean(r), now) for r in rows])
                written = max(cur.rowcount, 0)
            if batch.truths:
                cur.executemany(_INSERT_TRUTH, [truth_params(t) for t in batch.truths])
        return written

    def _insert_one_by_one(
        self, conn: psycopg.Connection[tuple[Any, ...]], batch: Batch, now: int
    ) -> tuple[int, int]:
        written = refused = 0
        empty = Batch()
        for row in batch.decisions:
            try:
                written += self._insert(conn, [row], empty, now)
            except psycopg.DataError as exc:
                refused += 1
                log.error(
                    "decision %s+%d+%d refused by the store: %s",
                    row.topic,
                    row.partition,
                    row.offset,
                    type(exc).__name__,
                )
        for truth in batch.truths:
            try:
                self._insert(conn, [], Batch(truths=[truth]), now)
            except psycopg.DataError as exc:
                log.error("truth of %s+%d+%d refused: %s", truth.topic, truth.partition,
                          truth.offset, type(exc).__name__)  # fmt: skip
        return written, refused
