"""In-process state store, optionally persisted to a SQLite file.

Objects stay in a dict (no serialisation in the hot path: a ``get_many`` is a few dict
lookups). With a ``path``, states changed since the last :meth:`flush` are written to SQLite
on ``flush``/``close``, and a key missing from memory is looked up there on first use, so a
restarted process continues where the previous one flushed. Events processed after the last
flush are lost with the process; replaying them from the log then counts each exactly once
(the flushed states do not contain them, and their event-id memory recognises those they do).
So flush when the consumer commits its offsets, and state and offsets move together.

Not thread-safe: one store per worker thread or process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from fraudstream.detector.features.state import EntityState
from fraudstream.detector.features.stores.base import StateStore

_SCHEMA = "CREATE TABLE IF NOT EXISTS feature_state (key TEXT PRIMARY KEY, state BLOB NOT NULL)"
_BATCH = 500  # keys per SELECT ... IN (...), well under SQLite's variable limit


class MemoryStateStore(StateStore):
    """Dict-backed store; ``path`` adds SQLite persistence (see the module docstring)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self._states: dict[str, EntityState] = {}
        self._dirty: set[str] = set()
        self._absent: set[str] = set()  # keys known to be missing from the file
        self._db: sqlite3.Connection | None = None
        self._closed = False
        if path is not None:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Any thread may call (the engine serialises access under its own lock).
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.commit()

    def __len__(self) -> int:
        """States held in memory (not counting unloaded ones in the file)."""
        return len(self._states)

    def items(self) -> Iterator[tuple[str, EntityState]]:
        """The states held in memory (e.g. to copy a replayed history into another store)."""
        return iter(list(self._states.items()))

    def get_many(self, keys: Iterable[str]) -> dict[str, EntityState | None]:
        self._check_open()
        states = self._states
        found: dict[str, EntityState | None] = {key: states.get(key) for key in keys}
        if self._db is not None:
            missing = [k for k, v in found.items() if v is None and k not in self._absent]
            if missing:
                loaded = self._load(missing)
                for key in missing:
                    state = loaded.get(key)
                    if state is None:
                        self._absent.add(key)
                    else:
                        states[key] = found[key] = state
        return found

    def put_many(self, states: Mapping[str, EntityState | None]) -> None:
        self._check_open()
        held = self._states
        persist = self._db is not None
        for key, state in states.items():
            if state is not None:
                held[key] = state
                if persist:
                    self._dirty.add(key)
                    self._absent.discard(key)

    def flush(self) -> None:
        """Write states changed since the last flush to the SQLite file (if any)."""
        self._check_open()
        if self._db is None or not self._dirty:
            return
        rows = [(key, self._states[key].to_bytes()) for key in self._dirty]
        with self._db:  # one transaction
            self._db.executemany(
                "INSERT OR REPLACE INTO feature_state (key, state) VALUES (?, ?)", rows
            )
        self._dirty.clear()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._db is not None:
                self._db.close()
                self._db = None

    def _load(self, keys: list[str]) -> dict[str, EntityState]:
        assert self._db is not None
        out: dict[str, EntityState] = {}
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT key, state FROM feature_state WHERE key IN ({marks})", batch
            )
            for key, blob in rows:
                out[key] = EntityState.from_bytes(blob)
        return out

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the state store is closed")
