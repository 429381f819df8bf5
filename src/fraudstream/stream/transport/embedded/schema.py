"""The log file's tables, and creating them on first open.

``topics(id, name, partitions)``, ``partitions(topic_id, part, end_offset)``,
``messages(topic_id, part, msg_offset, timestamp_ms, key, value, headers)`` with dense offsets per
partition, ``groups(group_id, generation)``, ``members(group_id, member_id, topics, expires_at)``,
``owners(group_id, topic_id, part, member_id)``, ``committed(group_id, topic_id, part,
next_offset)``, ``producers(transactional_id, epoch)``. ``meta.schema_version`` guards against a
file written by an incompatible version.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Final

from fraudstream.stream.transport.embedded.database import Database, retry_busy
from fraudstream.stream.transport.errors import TransportError

__all__ = ["SCHEMA_VERSION", "init_schema"]

SCHEMA_VERSION: Final = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY, value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, partitions INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions (
    topic_id INTEGER NOT NULL, part INTEGER NOT NULL, end_offset INTEGER NOT NULL,
    PRIMARY KEY (topic_id, part)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    topic_id INTEGER NOT NULL, part INTEGER NOT NULL, msg_offset INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL, key BLOB, value BLOB NOT NULL, headers BLOB,
    PRIMARY KEY (topic_id, part, msg_offset)
);
CREATE TABLE IF NOT EXISTS groups (
    group_id TEXT PRIMARY KEY, generation INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
    group_id TEXT NOT NULL, member_id TEXT NOT NULL, topics TEXT NOT NULL,
    expires_at REAL NOT NULL, joined_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owners (
    group_id TEXT NOT NULL, topic_id INTEGER NOT NULL, part INTEGER NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (group_id, topic_id, part)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS committed (
    group_id TEXT NOT NULL, topic_id INTEGER NOT NULL, part INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, committed_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic_id, part)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS producers (
    transactional_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL
) WITHOUT ROWID;
"""


def init_schema(db: Database, busy_timeout: float) -> None:
    """Switch the file to WAL and create missing tables; closes ``db`` when that fails."""
    deadline = time.monotonic() + busy_timeout
    conn = db.conn

    def set_wal() -> None:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise TransportError(f"embedded log {db.path}: cannot use WAL mode ({mode})")

    try:
        retry_busy(set_wal, deadline)
        with db.write() as cur:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                cur.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            elif int(row[0]) != SCHEMA_VERSION:
                raise TransportError(
                    f"embedded log {db.path} has schema version {row[0]}, "
                    f"this fraudstream reads version {SCHEMA_VERSION}"
                )
    except sqlite3.Error as exc:
        db.close()
        raise TransportError(f"cannot initialise embedded log {db.path}: {exc}") from exc
    except TransportError:
        db.close()
        raise
