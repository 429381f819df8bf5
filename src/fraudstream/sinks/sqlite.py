"""The embedded decision store: one SQLite file in the home folder (``<home>/decisions.db``).

WAL mode, so the dashboard reads while the sink consumer writes, and several processes may
open the file (writers queue on ``busy_timeout``). A batch is one ``BEGIN IMMEDIATE``
transaction: all of it is stored or none. ``synchronous=NORMAL`` keeps a committed batch across
a crash of the process (a power loss may lose the last batches, which the sink consumer then
writes again from its committed offsets, because offsets are committed after the batch).

A file written by an older version is brought up to date when it is opened (columns added
since are added in place, empty for the rows already there); see :data:`ADDED_COLUMNS`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from fraudstream.sinks.base import WriteResult
from fraudstream.sinks.errors import SinkInputError, SinkUnavailable
from fraudstream.sinks.records import Batch
from fraudstream.sinks.sql import (
    INSERT_DECISION,
    INSERT_TRUTH,
    SqlDecisionStore,
    decision_params,
    truth_params,
)

__all__ = ["DEFAULT_FILENAME", "SQLiteDecisionStore"]

log = logging.getLogger(__name__)

DEFAULT_FILENAME: Final = "decisions.db"
SCHEMA_VERSION: Final = 2
#: Columns of ``decisions`` added after version 1, with their types: an older file gets them
#: (``ALTER TABLE ... ADD COLUMN``, NULL in existing rows) when it is opened.
ADDED_COLUMNS: Final[tuple[tuple[str, str], ...]] = (("queue_time", "REAL"),)

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS decisions (
    topic TEXT NOT NULL, part INTEGER NOT NULL, msg_offset INTEGER NOT NULL,
    event_id TEXT NOT NULL, entity_id TEXT NOT NULL,
    event_ms INTEGER NOT NULL, decision_ms INTEGER,
    outcome TEXT, score REAL, amount REAL, currency TEXT, category TEXT,
    email TEXT, ip TEXT, card_bin INTEGER, billing_state TEXT, latitude REAL, longitude REAL,
    ttdf REAL, proc_time REAL, fd_time REAL, queue_time REAL,
    detector_id TEXT, detector_version TEXT, duplicate INTEGER NOT NULL,
    rules TEXT NOT NULL, record TEXT NOT NULL, written_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, part, msg_offset)
);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_event ON decisions (event_id, topic);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (event_ms);
CREATE INDEX IF NOT EXISTS decisions_entity ON decisions (entity_id, event_ms);
CREATE INDEX IF NOT EXISTS decisions_outcome ON decisions (outcome, event_ms);
CREATE INDEX IF NOT EXISTS decisions_email ON decisions (email);
CREATE INDEX IF NOT EXISTS decisions_ip ON decisions (ip);
CREATE TABLE IF NOT EXISTS truth (
    event_id TEXT PRIMARY KEY, entity_id TEXT, is_fraud INTEGER NOT NULL, kind TEXT,
    event_ms INTEGER, topic TEXT NOT NULL, part INTEGER NOT NULL, msg_offset INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS labels (
    event_id TEXT PRIMARY KEY, label TEXT NOT NULL, analyst TEXT, note TEXT NOT NULL,
    labelled_ms INTEGER NOT NULL
) WITHOUT ROWID;
"""


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the columns an older file lacks and record the schema version. One write
    transaction, checked again inside it: processes opening the file at once do it once."""
    version = conn.execute(
        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'"
    ).fetchone()
    wanted = {name for name, _ in ADDED_COLUMNS}
    if (
        version is not None
        and version[0] >= SCHEMA_VERSION
        and wanted <= _columns(conn, "decisions")
    ):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        present = _columns(conn, "decisions")
        for name, kind in ADDED_COLUMNS:
            if name not in present:
                log.info("decision store: adding column decisions.%s", name)
                conn.execute(f"ALTER TABLE decisions ADD COLUMN {name} {kind}")
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            " WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)",
            (str(SCHEMA_VERSION),),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class SQLiteDecisionStore(SqlDecisionStore):
    """Decisions in a SQLite file (see the module docs). Thread-safe (one connection, a lock)."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 30.0,
        synchronous: str = "NORMAL",
    ) -> None:
        super().__init__()
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise SinkInputError(f"synchronous must be OFF, NORMAL, FULL or EXTRA: {synchronous}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn = self._conn
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            conn.executescript(SCHEMA)
            _migrate(conn)
        except sqlite3.Error as exc:
            raise SinkUnavailable(f"cannot open decision store {self.path}: {exc}") from exc

    @classmethod
    def in_home(cls, home: str | Path) -> SQLiteDecisionStore:
        """The store of an installation's home folder (``<home>/decisions.db``)."""
        return cls(Path(home) / DEFAULT_FILENAME)

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SinkUnavailable("the decision store is closed")
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- hooks

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connection().execute(sql, tuple(params)).fetchall()
            except sqlite3.OperationalError as exc:
                raise SinkUnavailable(f"decision store query failed: {exc}") from exc

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            try:
                return self._connection().execute(sql, tuple(params)).rowcount
            except sqlite3.OperationalError as exc:
                raise SinkUnavailable(f"decision store write failed: {exc}") from exc

    def _floor_div(self, expr: str) -> str:
        # Scores are never negative, so truncation is the floor.
        return f"CAST({expr} / ? AS INTEGER)"

    # -- writing

    def write(self, batch: Batch) -> WriteResult:
        if not batch.decisions and not batch.truths:
            return WriteResult(rejected=len(batch.rejected))
        now = self._written_ms()
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    before = conn.total_changes
                    conn.executemany(
                        INSERT_DECISION, [decision_params(r, now) for r in batch.decisions]
                    )
                    written = conn.total_changes - before
                    if batch.truths:
                        conn.executemany(INSERT_TRUTH, [truth_params(t) for t in batch.truths])
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:  # locked, disk full, I/O error
                raise SinkUnavailable(f"decision store write failed: {exc}") from exc
        return WriteResult(written, len(batch.decisions) - written, len(batch.rejected))
