"""Stored events, their predictions and labels: what lookups, backtests and retraining read.

Writes are buffered and committed in batches because the scoring path must stay around a
millisecond; any read flushes first, so a caller always sees its own writes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from fraudstream.errors import NotFound
from fraudstream.events import Event

#: Rows per commit. Random-key index inserts dominate the cost, and bigger batches share pages.
FLUSH_ROWS = 2000
FLUSH_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class EventStatistics:
    """What is stored of one event type (AFD's ``ingestedEventStatistics``)."""

    count: int
    size_bytes: int
    least_recent: float | None
    most_recent: float | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event: Event
    label: str | None
    label_time: float | None


class EventStore:
    """Events (one row per event type + id) and predictions (one row per scoring) in SQLite."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._events: list[tuple[Any, ...]] = []
        self._predictions: list[tuple[Any, ...]] = []
        self._last_flush = time.monotonic()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint the WAL every ~40 MB instead of 4 MB: checkpoints were a third of the cost.
        self._db.execute("PRAGMA wal_autocheckpoint=10000")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS events (
                event_type TEXT NOT NULL, event_id TEXT NOT NULL,
                entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, event_time REAL NOT NULL,
                variables BLOB NOT NULL, label TEXT, label_time REAL,
                PRIMARY KEY (event_type, event_id));
            CREATE INDEX IF NOT EXISTS events_time ON events (event_type, event_time);
            CREATE INDEX IF NOT EXISTS events_entity ON events (entity_id, event_time);
            CREATE TABLE IF NOT EXISTS predictions (
                id INTEGER PRIMARY KEY, event_type TEXT NOT NULL, event_id TEXT NOT NULL,
                detector_id TEXT NOT NULL, detector_version_id TEXT NOT NULL,
                predicted_at REAL NOT NULL, outcome TEXT, body BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS predictions_event ON predictions (event_id);
            CREATE INDEX IF NOT EXISTS predictions_time ON predictions (predicted_at);
            """
        )

    # -- writes ------------------------------------------------------------------------------

    def put_event(
        self, event: Event, label: str | None = None, label_time: float | None = None
    ) -> None:
        row = (
            event.event_type,
            event.event_id,
            event.entity_type,
            event.entity_id,
            event.event_time,
            orjson.dumps(dict(event.variables)),
            label,
            label_time,
        )
        with self._lock:
            self._events.append(row)
            self._maybe_flush()

    def put_prediction(
        self,
        event: Event,
        detector_id: str,
        version_id: str,
        outcome: str | None,
        body: dict[str, Any],
    ) -> None:
        row = (
            event.event_type,
            event.event_id,
            detector_id,
            version_id,
            time.time(),
            outcome,
            orjson.dumps(body),
        )
        with self._lock:
            self._predictions.append(row)
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        pending = len(self._events) + len(self._predictions)
        if pending >= FLUSH_ROWS or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        # Swap the buffers under the buffer lock, write them under the write lock: scorers
        # keep appending while rows go to disk instead of waiting for the commit. Taking the
        # write lock before releasing the buffer lock keeps writes in order, and a reader
        # (which flushes first, holding the buffer lock) never overlaps a write.
        with self._lock:
            events, self._events = self._events, []
            predictions, self._predictions = self._predictions, []
            self._last_flush = time.monotonic()
            self._write_lock.acquire()
        try:
            if events or predictions:
                with self._db:
                    # Keep a label that arrived before the event was re-sent without one.
                    self._db.executemany(
                        """INSERT INTO events VALUES (?,?,?,?,?,?,?,?)
                        ON CONFLICT (event_type, event_id) DO UPDATE SET
                          entity_type=excluded.entity_type, entity_id=excluded.entity_id,
                          event_time=excluded.event_time, variables=excluded.variables,
                          label=coalesce(excluded.label, label),
                          label_time=coalesce(excluded.label_time, label_time)""",
                        events,
                    )
                    self._db.executemany(
                        "INSERT INTO predictions (event_type, event_id, detector_id, "
                        "detector_version_id, predicted_at, outcome, body) VALUES (?,?,?,?,?,?,?)",
                        predictions,
                    )
        except BaseException:
            self._write_lock.release()  # before taking the buffer lock: lock order
            with self._lock:  # not written: keep them for the next flush
                self._events[:0] = events
                self._predictions[:0] = predictions
            raise
        self._write_lock.release()

    def update_label(self, event_type: str, event_id: str, label: str, label_time: float) -> None:
        with self._lock:
            self.flush()
            with self._db:
                changed = self._db.execute(
                    "UPDATE events SET label=?, label_time=? WHERE event_type=? AND event_id=?",
                    (label, label_time, event_type, event_id),
                ).rowcount
        if not changed:
            raise NotFound(f"event {event_id!r} of type {event_type!r} not found")

    def delete_event(self, event_type: str, event_id: str, *, predictions: bool = False) -> None:
        with self._lock:
            self.flush()
            with self._db:
                self._db.execute(
                    "DELETE FROM events WHERE event_type=? AND event_id=?", (event_type, event_id)
                )
                if predictions:
                    self._db.execute(
                        "DELETE FROM predictions WHERE event_type=? AND event_id=?",
                        (event_type, event_id),
                    )

    # -- reads ---------------------------------------------------------------------------------

    def get_event(self, event_type: str, event_id: str) -> StoredEvent:
        with self._lock:
            self.flush()
            row = self._db.execute(
                "SELECT * FROM events WHERE event_type=? AND event_id=?", (event_type, event_id)
            ).fetchone()
        if row is None:
            raise NotFound(f"event {event_id!r} of type {event_type!r} not found")
        return _stored(row)

    def events(
        self,
        event_type: str,
        start: float | None = None,
        end: float | None = None,
        *,
        labelled_only: bool = False,
    ) -> Iterator[StoredEvent]:
        """Events of a type in time order (training and backtests replay them)."""
        sql = "SELECT * FROM events WHERE event_type=? AND event_time>=? AND event_time<?"
        if labelled_only:
            sql += " AND label IS NOT NULL"
        with self._lock:
            self.flush()
            rows = self._db.execute(
                sql + " ORDER BY event_time, event_id",
                (event_type, start or 0.0, end or float("inf")),
            ).fetchall()
        for row in rows:
            yield _stored(row)

    def statistics(self, event_type: str) -> EventStatistics:
        """Counts over the type's stored events (a scan of its rows: metadata calls only)."""
        with self._lock:
            self.flush()
            count, size, first, last = self._db.execute(
                "SELECT count(*), coalesce(sum(length(variables)), 0), min(event_time), "
                "max(event_time) FROM events WHERE event_type=?",
                (event_type,),
            ).fetchone()
        return EventStatistics(int(count), int(size), first, last)

    def entity_events(self, entity_id: str, limit: int = 20) -> list[StoredEvent]:
        with self._lock:
            self.flush()
            rows = self._db.execute(
                "SELECT * FROM events WHERE entity_id=? ORDER BY event_time DESC LIMIT ?",
                (entity_id, limit),
            ).fetchall()
        return [_stored(r) for r in rows]

    def predictions(
        self,
        *,
        event_id: str | None = None,
        event_type: str | None = None,
        detector_id: str | None = None,
        detector_version_id: str | None = None,
        start: float | None = None,
        end: float | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[tuple[int, dict[str, Any]]]:
        """Newest first, as (cursor id, prediction body); ``before_id`` pages further back."""
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("event_id", event_id),
            ("event_type", event_type),
            ("detector_id", detector_id),
            ("detector_version_id", detector_version_id),
        ):
            if value is not None:
                clauses.append(f"{column}=?")
                args.append(value)
        if start is not None:
            clauses.append("predicted_at>=?")
            args.append(start)
        if end is not None:
            clauses.append("predicted_at<?")
            args.append(end)
        if before_id is not None:
            clauses.append("id<?")
            args.append(before_id)
        where = " AND ".join(clauses) or "1=1"
        with self._lock:
            self.flush()
            rows = self._db.execute(
                f"SELECT id, body FROM predictions WHERE {where} ORDER BY id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [(int(r[0]), orjson.loads(r[1])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self.flush()
            self._db.close()


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    event_type, event_id, entity_type, entity_id, event_time, variables, label, label_time = row
    return StoredEvent(
        event=Event(
            event_id=event_id,
            entity_type=entity_type,
            entity_id=entity_id,
            event_time=event_time,
            variables=orjson.loads(variables),
            event_type=event_type,
        ),
        label=label,
        label_time=label_time,
    )
