"""The log itself: topics, partitions and their messages with dense offsets.

:class:`Catalog` resolves topic names (ids never change once created, so lookups are cached).
:class:`RowBatch` turns produced messages into rows and :func:`append` writes them inside the
caller's write transaction, so a plain batch, a transaction and its offsets commit as one.
Unkeyed messages rotate over the partitions. Messages never expire (no retention yet).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from collections.abc import Iterable, Sequence

from fraudstream.stream.transport.base import (
    HeadersLike,
    Message,
    normalize_headers,
    partition_for_key,
    to_bytes,
    validate_partitions,
    validate_topic_name,
)
from fraudstream.stream.transport.embedded.database import Database, now_ms
from fraudstream.stream.transport.embedded.headers import decode_headers, encode_headers
from fraudstream.stream.transport.errors import UnknownTopic

__all__ = ["Catalog", "Row", "RowBatch", "append", "end_offsets", "read"]

# topic_id, part, timestamp_ms, key, value, encoded headers
Row = tuple[int, int, int, bytes | None, bytes, bytes | None]


class Catalog:
    """Topic names -> ``(topic id, partition count)``, read through ``db``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[int, int]] = {}

    def lookup(self, name: str) -> tuple[int, int]:
        """``(topic id, partition count)``; raises :class:`UnknownTopic`."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        rows = self._db.read("SELECT id, partitions FROM topics WHERE name = ?", (name,))
        if not rows:
            raise UnknownTopic(f"topic {name!r} does not exist in {self._db.path}")
        topic_id, partitions = int(rows[0][0]), int(rows[0][1])
        self._cache[name] = (topic_id, partitions)
        return topic_id, partitions

    def create(self, names: Iterable[str], partitions: int) -> None:
        """Create the missing topics; existing ones are left as they are."""
        validate_partitions(partitions)
        wanted = [validate_topic_name(n) for n in names]
        now = now_ms()
        with self._db.write() as cur:
            for name in wanted:
                cur.execute(
                    "INSERT OR IGNORE INTO topics (name, partitions, created_ms) VALUES (?, ?, ?)",
                    (name, partitions, now),
                )
                if cur.rowcount:
                    topic_id = cur.lastrowid
                    cur.executemany(
                        "INSERT INTO partitions (topic_id, part, end_offset) VALUES (?, ?, 0)",
                        [(topic_id, p) for p in range(partitions)],
                    )

    def all(self) -> dict[str, int]:
        rows = self._db.read("SELECT name, partitions FROM topics ORDER BY name")
        return {str(name): int(parts) for name, parts in rows}


class RowBatch:
    """Messages buffered as rows until :func:`append` writes them."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.rows: list[Row] = []
        self._round_robin = itertools.count(int.from_bytes(os.urandom(2), "big"))

    def add(
        self, topic: str, value: bytes | str, key: bytes | str | None, headers: HeadersLike
    ) -> None:
        topic_id, partitions = self.catalog.lookup(topic)
        raw_value = to_bytes(value, "value")
        raw_key = None if key is None else to_bytes(key, "key")
        if raw_key is None:
            part = next(self._round_robin) % partitions
        else:
            part = partition_for_key(raw_key, partitions)
        headers_blob = encode_headers(normalize_headers(headers))
        self.rows.append((topic_id, part, now_ms(), raw_key, raw_value, headers_blob))


def append(cur: sqlite3.Cursor, rows: Sequence[Row]) -> None:
    """Insert ``rows`` at the ends of their partitions, inside the caller's write transaction."""
    if not rows:
        return
    ends: dict[tuple[int, int], int] = {}
    params = []
    for topic_id, part, ts, key, value, headers in rows:
        tp = (topic_id, part)
        offset = ends.get(tp)
        if offset is None:
            got = cur.execute(
                "SELECT end_offset FROM partitions WHERE topic_id = ? AND part = ?", tp
            ).fetchone()
            offset = int(got[0])
        params.append((topic_id, part, offset, ts, key, value, headers))
        ends[tp] = offset + 1
    cur.executemany(
        "INSERT INTO messages (topic_id, part, msg_offset, timestamp_ms, key, value, headers)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        params,
    )
    cur.executemany(
        "UPDATE partitions SET end_offset = ? WHERE topic_id = ? AND part = ?",
        [(end, tp[0], tp[1]) for tp, end in ends.items()],
    )


def end_offsets(db: Database, topic_ids: Sequence[int]) -> dict[tuple[int, int], int]:
    """``(topic id, partition) -> offset after the last message`` for ``topic_ids``."""
    if not topic_ids:
        return {}
    marks = ",".join("?" * len(topic_ids))
    rows = db.read(
        f"SELECT topic_id, part, end_offset FROM partitions WHERE topic_id IN ({marks})",
        list(topic_ids),
    )
    return {(int(tid), int(part)): int(end) for tid, part, end in rows}


def read(
    db: Database, topic: str, topic_id: int, part: int, position: int, limit: int
) -> list[Message]:
    """Up to ``limit`` messages of one partition from ``position`` on, in offset order."""
    rows = db.read(
        "SELECT msg_offset, timestamp_ms, key, value, headers FROM messages"
        " WHERE topic_id = ? AND part = ? AND msg_offset >= ?"
        " ORDER BY msg_offset LIMIT ?",
        (topic_id, part, position, limit),
    )
    return [
        Message(topic, part, int(offset), key, value, decode_headers(headers), int(ts))
        for offset, ts, key, value, headers in rows
    ]
