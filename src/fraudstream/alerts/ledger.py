"""The alert ledger: a durable outbox and the record of what was sent, in ``<home>/alerts.db``.

One row per (event id, channel). The consumer inserts rows as ``pending`` (``INSERT OR
IGNORE``: a decision read twice — a replay, a restart, the processor's own re-emission — never
makes a second row) and commits its offsets only afterwards, so an alert is never lost. Each
channel's worker then moves its rows ``pending -> sending -> sent``:

* ``claim`` marks rows ``sending`` with the worker's owner tag before the channel is called;
* ``mark_sent`` runs right after the channel accepted the message;
* a failure puts the row back to ``pending`` with a later ``next_ms`` (backoff).

What a crash can do: if the process dies after the channel accepted a message and before
``mark_sent`` committed (a window of about a millisecond), the row stays ``sending`` and is
sent once more after restart: the only duplicate possible, at most one per channel per crash
(or one digest), and its ``Idempotency-Key`` / ``Message-ID`` is the same, so receivers that
honour those drop it. Rows left ``sending`` by a dead process on this host are reclaimed at
once on restart; otherwise (another host, a live but stuck process) when their ``lease``
expires.

Customer data in the ledger is masked like the messages (rows store the masked
:class:`~fraudstream.alerts.message.Alert`).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from fraudstream.alerts.errors import LedgerUnavailable
from fraudstream.alerts.message import Alert

__all__ = ["DEFAULT_FILENAME", "Delivery", "Ledger"]

DEFAULT_FILENAME: Final = "alerts.db"

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT NOT NULL, channel TEXT NOT NULL, state TEXT NOT NULL,
    alert TEXT NOT NULL, source TEXT, created_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL,
    claimed_ms INTEGER, claimed_by TEXT, sent_ms INTEGER, digest_id TEXT, last_error TEXT,
    PRIMARY KEY (event_id, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (channel, state, next_ms);
CREATE INDEX IF NOT EXISTS deliveries_sent ON deliveries (channel, sent_ms);
"""

PENDING: Final = "pending"
SENDING: Final = "sending"
SENT: Final = "sent"
FAILED: Final = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the ledger, as tools and tests read it."""

    event_id: str
    channel: str
    state: str
    attempts: int
    sent_ms: int | None
    digest_id: str | None
    last_error: str | None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Ledger:
    """The ledger file (see the module docs). Thread-safe: one connection behind a lock;
    several processes may share the file (WAL, writers queue on ``busy_timeout``)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        #: Who claims rows: host, pid and a token for this instance.
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"cannot open the alert ledger {self.path}: {exc}") from exc

    @classmethod
    def in_home(cls, home: str | Path) -> Ledger:
        return cls(Path(home) / DEFAULT_FILENAME)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def _tx(self, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise LedgerUnavailable("the alert ledger is closed")
            try:
                conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                raise LedgerUnavailable(f"alert ledger: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._conn is None:
                raise LedgerUnavailable("the alert ledger is closed")
            try:
                return self._conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.OperationalError as exc:
                raise LedgerUnavailable(f"alert ledger: {exc}") from exc

    # -- the consumer's side

    def enqueue(self, alerts: Sequence[Alert], channels: Sequence[str]) -> int:
        """Queue every alert for every channel in one transaction; returns the new rows
        (rows that exist already, whatever their state, are left alone)."""
        if not alerts or not channels:
            return 0
        now = _now_ms()
        rows = [
            (a.event_id, c, PENDING, orjson.dumps(a.to_dict()).decode(), a.source, now, now)
            for a in alerts
            for c in channels
        ]
        with self._tx() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO deliveries"
                " (event_id, channel, state, alert, source, created_ms, next_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return conn.total_changes - before

    # -- a channel worker's side

    def recover(self, channel: str) -> int:
        """Put back to ``pending`` the rows a dead process on this host left ``sending``
        (they may have been delivered: see the module docs). Returns how many."""
        host = socket.gethostname()
        stale: list[str] = []
        for event_id, owner in self._read(
            "SELECT event_id, claimed_by FROM deliveries WHERE channel = ? AND state = ?",
            [channel, SENDING],
        ):
            parts = str(owner or "").split("/")
            if len(parts) != 3 or parts[0] != host or owner == self.owner:
                continue
            try:
                pid = int(parts[1])
            except ValueError:
                continue
            if pid == os.getpid() or not _pid_alive(pid):
                stale.append(event_id)
        if stale:
            with self._tx() as conn:
                conn.executemany(
                    "UPDATE deliveries SET state = ?, next_ms = ? WHERE channel = ?"
                    " AND event_id = ? AND state = ?",
                    [(PENDING, 0, channel, e, SENDING) for e in stale],
                )
        return len(stale)

    def due_count(self, channel: str, lease: float) -> int:
        now = _now_ms()
        rows = self._read(
            "SELECT COUNT(*) FROM deliveries WHERE channel = ? AND ((state = ? AND next_ms <= ?)"
            " OR (state = ? AND claimed_ms <= ?))",
            [channel, PENDING, now, SENDING, now - int(lease * 1000)],
        )
        return int(rows[0][0])

    def next_due_ms(self, channel: str) -> int | None:
        """When the earliest pending row of ``channel`` is due (None: nothing pending)."""
        rows = self._read(
            "SELECT MIN(next_ms) FROM deliveries WHERE channel = ? AND state = ?",
            [channel, PENDING],
        )
        return None if rows[0][0] is None else int(rows[0][0])

    def claim(self, channel: str, limit: int, lease: float) -> list[Alert]:
        """Mark up to ``limit`` due rows ``sending`` (in queueing order) and return their
        alerts."""
        now = _now_ms()
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT event_id, alert FROM deliveries WHERE channel = ?"
                " AND ((state = ? AND next_ms <= ?) OR (state = ? AND claimed_ms <= ?))"
                " ORDER BY rowid LIMIT ?",
                (channel, PENDING, now, SENDING, now - int(lease * 1000), limit),
            ).fetchall()
            conn.executemany(
                "UPDATE deliveries SET state = ?, claimed_ms = ?, claimed_by = ?,"
                " attempts = attempts + 1 WHERE channel = ? AND event_id = ?",
                [(SENDING, now, self.owner, channel, event_id) for event_id, _ in rows],
            )
        return [Alert.from_dict(orjson.loads(alert)) for _, alert in rows]

    def mark_sent(
        self, channel: str, event_ids: Sequence[str], digest_id: str | None = None
    ) -> None:
        now = _now_ms()
        with self._tx() as conn:
            conn.executemany(
                "UPDATE deliveries SET state = ?, sent_ms = ?, digest_id = ?, last_error = NULL"
                " WHERE channel = ? AND event_id = ?",
                [(SENT, now, digest_id, channel, e) for e in event_ids],
            )

    def mark_retry(self, channel: str, event_ids: Sequence[str], error: str, delay: float) -> None:
        due = _now_ms() + int(delay * 1000)
        with self._tx() as conn:
            conn.executemany(
                "UPDATE deliveries SET state = ?, next_ms = ?, last_error = ?"
                " WHERE channel = ? AND event_id = ? AND state = ?",
                [(PENDING, due, error[:500], channel, e, SENDING) for e in event_ids],
            )

    def expire(self, channel: str, max_age: float) -> int:
        """Give up on pending rows older than ``max_age`` seconds (state ``failed``)."""
        cutoff = _now_ms() - int(max_age * 1000)
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE deliveries SET state = ? WHERE channel = ? AND state = ?"
                " AND created_ms < ?",
                (FAILED, channel, PENDING, cutoff),
            )
            return cur.rowcount

    def messages_since(self, channel: str, since_ms: int) -> int:
        """Messages (an alert, or one digest) ``channel`` sent since ``since_ms``."""
        rows = self._read(
            "SELECT COUNT(DISTINCT COALESCE(digest_id, event_id)) FROM deliveries"
            " WHERE channel = ? AND sent_ms >= ? AND state = ?",
            [channel, since_ms, SENT],
        )
        return int(rows[0][0])

    def last_digest_ms(self, channel: str) -> int | None:
        rows = self._read(
            "SELECT MAX(sent_ms) FROM deliveries WHERE channel = ? AND digest_id IS NOT NULL",
            [channel],
        )
        return None if rows[0][0] is None else int(rows[0][0])

    # -- reading

    def outstanding(self, channels: Sequence[str] | None = None) -> int:
        """Rows not yet sent nor given up (pending or sending)."""
        sql = "SELECT COUNT(*) FROM deliveries WHERE state IN (?, ?)"
        params: list[Any] = [PENDING, SENDING]
        if channels is not None:
            sql += f" AND channel IN ({', '.join('?' for _ in channels)})"
            params.extend(channels)
        return int(self._read(sql, params)[0][0])

    def counts(self) -> dict[tuple[str, str], int]:
        """Rows per (channel, state)."""
        return {
            (str(c), str(s)): int(n)
            for c, s, n in self._read(
                "SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state"
            )
        }

    def deliveries(self, event_id: str | None = None) -> list[Delivery]:
        sql = (
            "SELECT event_id, channel, state, attempts, sent_ms, digest_id, last_error"
            " FROM deliveries"
        )
        params: list[Any] = []
        if event_id is not None:
            sql += " WHERE event_id = ?"
            params.append(event_id)
        return [Delivery(*row) for row in self._read(sql + " ORDER BY rowid", params)]
