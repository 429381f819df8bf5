"""Where the registry keeps its documents: an abstract store and its embedded SQLite form.

The registry only needs keyed JSON documents, blobs (model artifacts) and a generation counter
that tells scorers in other processes that something changed; any database with transactions
can provide that (PostgreSQL is the intended shared implementation).
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

Doc = dict[str, Any]


class DocumentStore(ABC):
    """Keyed JSON documents by kind, blobs, and a change counter, with transactions."""

    @abstractmethod
    def get(self, kind: str, key: str) -> Doc | None: ...

    @abstractmethod
    def put(self, kind: str, key: str, doc: Doc) -> None: ...

    @abstractmethod
    def delete(self, kind: str, key: str) -> bool: ...

    @abstractmethod
    def list(self, kind: str, prefix: str = "") -> list[Doc]:
        """Documents of a kind whose key starts with ``prefix``, in key order."""

    @abstractmethod
    def put_blob(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get_blob(self, key: str) -> bytes | None: ...

    @abstractmethod
    def delete_blob(self, key: str) -> None: ...

    @abstractmethod
    def generation(self) -> int:
        """A number that grows with every committed change; cheap to read often."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group changes atomically; bumps the generation once on commit. Re-entrant."""

    @abstractmethod
    def close(self) -> None: ...


class SQLiteDocumentStore(DocumentStore):
    """One SQLite file; safe for several processes (WAL) and threads (one lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._lock = threading.RLock()
        self._depth = 0
        self._dirty = False
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS docs (
                kind TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL,
                PRIMARY KEY (kind, key));
            CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO meta VALUES ('generation', 0);
            """
        )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._db.execute("BEGIN IMMEDIATE")
                self._dirty = False
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                if self._dirty:
                    self._db.execute("UPDATE meta SET value = value + 1 WHERE name='generation'")
                self._db.execute("COMMIT")

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        with self.transaction():
            self._dirty = True
            return self._db.execute(sql, args).rowcount

    def get(self, kind: str, key: str) -> Doc | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM docs WHERE kind=? AND key=?", (kind, key)
            ).fetchone()
        return None if row is None else orjson.loads(row[0])

    def put(self, kind: str, key: str, doc: Doc) -> None:
        self._write("INSERT OR REPLACE INTO docs VALUES (?, ?, ?)", (kind, key, orjson.dumps(doc)))

    def delete(self, kind: str, key: str) -> bool:
        return self._write("DELETE FROM docs WHERE kind=? AND key=?", (kind, key)) > 0

    def list(self, kind: str, prefix: str = "") -> list[Doc]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM docs WHERE kind=? AND substr(key, 1, ?)=? ORDER BY key",
                (kind, len(prefix), prefix),
            ).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def put_blob(self, key: str, data: bytes) -> None:
        self._write("INSERT OR REPLACE INTO blobs VALUES (?, ?)", (key, data))

    def get_blob(self, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM blobs WHERE key=?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def delete_blob(self, key: str) -> None:
        self._write("DELETE FROM blobs WHERE key=?", (key,))

    def generation(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name='generation'").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
