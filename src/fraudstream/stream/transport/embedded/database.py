"""One SQLite connection to the log file, with the locking and error mapping every part uses.

Each client (transport, producer, consumer) opens its own :class:`Database`, so a slow writer
in one thread never holds another client's connection; SQLite's own file lock (WAL mode,
``busy_timeout``) orders the writers of every process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from fraudstream.stream.transport.errors import TransportClosed, TransportError

__all__ = ["Database", "now_ms", "retry_busy"]

_T = TypeVar("_T")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Database:
    """One SQLite connection with our pragmas. All use goes through ``lock``."""

    def __init__(self, path: Path, busy_timeout: float, synchronous: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self.conn.execute(f"PRAGMA synchronous = {synchronous}")
        except sqlite3.Error as exc:
            raise TransportError(f"cannot open embedded log {path}: {exc}") from exc
        self.closed = False

    @contextmanager
    def write(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction (BEGIN IMMEDIATE: takes the write lock up front, waiting for it)."""
        with self.lock:
            self._check_open()
            cur = self.conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise TransportError(f"embedded log {self.path} is busy: {exc}") from exc
            try:
                yield cur
            except BaseException:
                self.conn.rollback()
                raise
            try:
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                self.conn.rollback()
                raise TransportError(f"commit to embedded log {self.path} failed: {exc}") from exc

    def read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            self._check_open()
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise TransportError(f"read from embedded log {self.path} failed: {exc}") from exc

    def _check_open(self) -> None:
        if self.closed:
            raise TransportClosed("the embedded log connection is closed")

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                self.conn.close()


def retry_busy(fn: Callable[[], _T], deadline: float) -> _T:
    """Run ``fn``, retrying while SQLite reports the database locked (used at start-up, where
    ``PRAGMA journal_mode`` does not wait on the busy handler)."""
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
