"""The embedded transport: a durable event log in one SQLite file, no server.

Several local processes can share the file (WAL mode: readers never block the single writer;
``busy_timeout`` makes writers queue). Layout:

``topics(id, name, partitions)``, ``partitions(topic_id, part, end_offset)``,
``messages(topic_id, part, msg_offset, timestamp_ms, key, value, headers)`` with dense offsets per
partition, ``groups(group_id, generation)``, ``members(group_id, member_id, topics, expires_at)``,
``owners(group_id, topic_id, part, member_id)``, ``committed(group_id, topic_id, part,
next_offset)``, ``producers(transactional_id, epoch)``.

Consumer groups. Each member heartbeats (at most every ``session_timeout / 5`` seconds, from
``poll``); a member whose heartbeat is older than ``session_timeout`` is deleted by the next
member that heartbeats, and every change of membership bumps the group's generation. The wanted
assignment is a pure function of the live members: Kafka's *range* assignor per topic over the
members sorted by id (so members of two co-partitioned topics get the same partition numbers).
A member releases the partitions it should not own on its next poll and claims a partition only
once no live member owns it, so one partition never has two readers. Commits check ownership in
the same SQLite transaction; a stale member gets :class:`CommitFailed`.

``session_timeout`` is also the longest a consumer may go without calling ``poll``.

Producers buffer messages and write a batch in one transaction when it reaches ``batch_size``,
on ``flush()``, or ``linger`` seconds after the first buffered message (a background thread).
With ``synchronous=NORMAL`` (the default) a committed batch survives a crash of the process; a
power loss may lose the last batches (``synchronous="FULL"`` prevents that at some speed cost).

Unkeyed messages rotate over the partitions. Messages never expire (no retention yet).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import sqlite3
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

from fraudstream.stream.transport.base import (
    Consumer,
    Headers,
    HeadersLike,
    Lag,
    Message,
    OffsetsLike,
    Producer,
    TopicPartition,
    TransactionalProducer,
    Transport,
    normalize_headers,
    normalize_offsets,
    partition_for_key,
    to_bytes,
    validate_partitions,
    validate_topic_name,
)
from fraudstream.stream.transport.errors import (
    CommitFailed,
    ProducerFenced,
    TransactionAborted,
    TransportClosed,
    TransportError,
    TransportInputError,
    UnknownTopic,
)

__all__ = ["EmbeddedTransport"]

log = logging.getLogger(__name__)

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

_T = TypeVar("_T")
# topic_id, part, timestamp_ms, key, value, encoded headers
_Row = tuple[int, int, int, bytes | None, bytes, bytes | None]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# --------------------------------------------------------------------------- header encoding

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def _encode_headers(headers: Headers) -> bytes | None:
    if not headers:
        return None
    parts = [_U16.pack(len(headers))]
    for name, value in headers:
        raw = name.encode()
        parts += [_U16.pack(len(raw)), raw, _U32.pack(len(value)), value]
    return b"".join(parts)


def _decode_headers(blob: bytes | None) -> Headers:
    if not blob:
        return ()
    (count,) = _U16.unpack_from(blob, 0)
    pos = 2
    out: list[tuple[str, bytes]] = []
    for _ in range(count):
        (n,) = _U16.unpack_from(blob, pos)
        name = blob[pos + 2 : pos + 2 + n].decode()
        pos += 2 + n
        (v,) = _U32.unpack_from(blob, pos)
        out.append((name, blob[pos + 4 : pos + 4 + v]))
        pos += 4 + v
    return tuple(out)


# --------------------------------------------------------------------------- the database


class _Db:
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


def _retry_busy(fn: Callable[[], _T], deadline: float) -> _T:
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


# --------------------------------------------------------------------------- transport


class EmbeddedTransport(Transport):
    """A durable log in one SQLite file (created if missing, parent folders too).

    ``session_timeout``: seconds after which a silent consumer loses its partitions.
    ``batch_size`` / ``linger``: producers write a batch when it has this many messages or when
    its first message is this many seconds old. ``busy_timeout``: seconds to wait for the write
    lock before :class:`TransportError`. ``synchronous``: SQLite's ``NORMAL`` or ``FULL``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        session_timeout: float = 10.0,
        batch_size: int = 1000,
        linger: float = 0.005,
        busy_timeout: float = 30.0,
        synchronous: str = "NORMAL",
    ) -> None:
        if session_timeout <= 0 or batch_size < 1 or linger < 0 or busy_timeout <= 0:
            raise TransportInputError(
                "session_timeout and busy_timeout must be > 0, batch_size >= 1, linger >= 0"
            )
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise TransportInputError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
        self.path = Path(path).expanduser().absolute()
        self.session_timeout = float(session_timeout)
        self.batch_size = batch_size
        self.linger = float(linger)
        self.busy_timeout = float(busy_timeout)
        self.synchronous = synchronous.upper()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportError(
                f"cannot create folder for embedded log {self.path}: {exc}"
            ) from exc
        self._db = self._connect()
        self._init_schema()
        self._topic_cache: dict[str, tuple[int, int]] = {}
        self._closed = False

    # -- connections

    def _connect(self) -> _Db:
        return _Db(self.path, self.busy_timeout, self.synchronous)

    def _init_schema(self) -> None:
        deadline = time.monotonic() + self.busy_timeout
        conn = self._db.conn

        def set_wal() -> None:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise TransportError(f"embedded log {self.path}: cannot use WAL mode ({mode})")

        try:
            _retry_busy(set_wal, deadline)
            with self._db.write() as cur:
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
                        f"embedded log {self.path} has schema version {row[0]}, "
                        f"this fraudstream reads version {SCHEMA_VERSION}"
                    )
        except sqlite3.Error as exc:
            self._db.close()
            raise TransportError(f"cannot initialise embedded log {self.path}: {exc}") from exc
        except TransportError:
            self._db.close()
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise TransportClosed("the transport is closed")

    # -- topics

    def _topic(self, name: str) -> tuple[int, int]:
        """(topic id, partition count); cached since topics never change once created."""
        cached = self._topic_cache.get(name)
        if cached is not None:
            return cached
        self._check_open()
        rows = self._db.read("SELECT id, partitions FROM topics WHERE name = ?", (name,))
        if not rows:
            raise UnknownTopic(f"topic {name!r} does not exist in {self.path}")
        topic_id, partitions = rows[0]
        self._topic_cache[name] = (topic_id, partitions)
        return topic_id, partitions

    def create_topics(self, names: Iterable[str], partitions: int = 1) -> None:
        self._check_open()
        validate_partitions(partitions)
        wanted = [validate_topic_name(n) for n in names]
        now = _now_ms()
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

    def partitions_for(self, topic: str) -> int:
        return self._topic(topic)[1]

    def topics(self) -> dict[str, int]:
        """Every topic and its partition count."""
        self._check_open()
        rows = self._db.read("SELECT name, partitions FROM topics ORDER BY name")
        return {str(name): int(parts) for name, parts in rows}

    def end_offsets(self, topic: str) -> dict[int, int]:
        topic_id, _ = self._topic(topic)
        rows = self._db.read(
            "SELECT part, end_offset FROM partitions WHERE topic_id = ? ORDER BY part", (topic_id,)
        )
        return {int(p): int(e) for p, e in rows}

    # -- clients

    def producer(self) -> EmbeddedProducer:
        self._check_open()
        return EmbeddedProducer(self)

    def transactional_producer(self, transactional_id: str) -> EmbeddedTransactionalProducer:
        self._check_open()
        if not transactional_id or not isinstance(transactional_id, str):
            raise TransportInputError("transactional_id must be a non-empty string")
        return EmbeddedTransactionalProducer(self, transactional_id)

    def consumer(
        self, group_id: str, topics: Iterable[str], *, from_beginning: bool = True
    ) -> EmbeddedConsumer:
        self._check_open()
        if not group_id or not isinstance(group_id, str):
            raise TransportInputError("group_id must be a non-empty string")
        names = tuple(dict.fromkeys(topics))
        if not names:
            raise TransportInputError("a consumer needs at least one topic")
        for name in names:
            self._topic(name)
        return EmbeddedConsumer(self, group_id, names, from_beginning=from_beginning)

    def redacted(self) -> str:
        return f"embedded://{self.path}"

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()


# --------------------------------------------------------------------------- writing


class _Batcher:
    """Builds rows for the messages table and writes them with dense offsets."""

    def __init__(self, transport: EmbeddedTransport) -> None:
        self.transport = transport
        self.rows: list[_Row] = []
        self._round_robin = itertools.count(int.from_bytes(os.urandom(2), "big"))

    def add(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None,
        headers: HeadersLike,
    ) -> None:
        topic_id, partitions = self.transport._topic(topic)
        raw_value = to_bytes(value, "value")
        raw_key = None if key is None else to_bytes(key, "key")
        if raw_key is None:
            part = next(self._round_robin) % partitions
        else:
            part = partition_for_key(raw_key, partitions)
        self.rows.append(
            (
                topic_id,
                part,
                _now_ms(),
                raw_key,
                raw_value,
                _encode_headers(normalize_headers(headers)),
            )
        )

    @staticmethod
    def write(cur: sqlite3.Cursor, rows: Sequence[_Row]) -> None:
        """Insert ``rows`` inside the caller's write transaction."""
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


class EmbeddedProducer(Producer):
    def __init__(self, transport: EmbeddedTransport) -> None:
        self._transport = transport
        self._db = transport._connect()
        self._batch = _Batcher(transport)
        self._cond = threading.Condition(self._db.lock)
        self._first_at = 0.0
        self._closed = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None = None,
        headers: HeadersLike = None,
    ) -> None:
        with self._cond:
            if self._closed:
                raise TransportClosed("the producer is closed")
            self._batch.add(topic, value, key, headers)
            if len(self._batch.rows) >= self._transport.batch_size:
                self._write_locked()
            elif len(self._batch.rows) == 1:
                self._first_at = time.monotonic()
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._linger_loop, name="fraudstream-embedded-producer", daemon=True
                    )
                    self._thread.start()
                self._cond.notify()

    def _write_locked(self) -> None:
        rows = self._batch.rows
        with self._db.write() as cur:
            _Batcher.write(cur, rows)
        self._batch.rows = []
        self._error = None

    def _linger_loop(self) -> None:
        linger = self._transport.linger
        with self._cond:
            while not self._closed:
                if not self._batch.rows:
                    self._cond.wait()
                    continue
                wait = self._first_at + linger - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                try:
                    self._write_locked()
                except Exception as exc:  # kept for flush() to report; retried later
                    self._error = exc
                    log.warning("embedded producer: background write failed: %s", exc)
                    self._cond.wait(max(linger, 0.1) * 10)

    def flush(self, timeout: float | None = None) -> None:
        with self._cond:
            if self._closed:
                return
            if not self._batch.rows:
                return
            self._write_locked()  # on TransportError the messages stay queued for a retry

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            try:
                self.flush()
            finally:
                self._closed = True
                self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._db.close()


class EmbeddedTransactionalProducer(TransactionalProducer):
    def __init__(self, transport: EmbeddedTransport, transactional_id: str) -> None:
        self.transactional_id = transactional_id
        self._transport = transport
        self._db = transport._connect()
        self._batch = _Batcher(transport)
        self._open = False
        self._closed = False
        self._fenced = False
        with self._db.write() as cur:
            cur.execute(
                "INSERT INTO producers (transactional_id, epoch) VALUES (?, 0)"
                " ON CONFLICT (transactional_id) DO UPDATE SET epoch = epoch + 1",
                (transactional_id,),
            )
            row = cur.execute(
                "SELECT epoch FROM producers WHERE transactional_id = ?", (transactional_id,)
            ).fetchone()
            self._epoch = int(row[0])

    @property
    def in_transaction(self) -> bool:
        return self._open

    def _check(self, *, want_open: bool) -> None:
        if self._closed:
            raise TransportClosed("the transactional producer is closed")
        if self._fenced:
            raise ProducerFenced(f"transactional id {self.transactional_id!r} was fenced")
        if want_open and not self._open:
            raise TransportError("no transaction is open: call begin() first")
        if not want_open and self._open:
            raise TransportError("a transaction is already open")

    def begin(self) -> None:
        self._check(want_open=False)
        self._batch.rows = []
        self._open = True

    def produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None = None,
        headers: HeadersLike = None,
    ) -> None:
        self._check(want_open=True)
        self._batch.add(topic, value, key, headers)

    def _commit(self, consumer: Consumer | None, offsets: OffsetsLike | None) -> None:
        self._check(want_open=True)
        target: EmbeddedConsumer | None = None
        commit_offsets: dict[TopicPartition, int] = {}
        if consumer is not None:
            if not isinstance(consumer, EmbeddedConsumer) or consumer._transport.path != (
                self._transport.path
            ):
                raise TransportInputError(
                    "commit_with_offsets needs a consumer of the same embedded log"
                )
            target = consumer
            commit_offsets = normalize_offsets(offsets if offsets is not None else {})
        try:
            with self._db.write() as cur:
                row = cur.execute(
                    "SELECT epoch FROM producers WHERE transactional_id = ?",
                    (self.transactional_id,),
                ).fetchone()
                if row is None or int(row[0]) != self._epoch:
                    self._fenced = True
                    raise ProducerFenced(
                        f"transactional id {self.transactional_id!r} was taken over by a newer"
                        " producer"
                    )
                if target is not None:
                    target._store_offsets(cur, commit_offsets)
                _Batcher.write(cur, self._batch.rows)
        except ProducerFenced:
            self._open = False
            self._batch.rows = []
            raise
        except CommitFailed as exc:
            self._open = False
            self._batch.rows = []
            assert target is not None
            target._pending = True
            raise TransactionAborted(f"transaction aborted: {exc}") from exc
        self._open = False
        self._batch.rows = []

    def commit_with_offsets(self, consumer: Consumer, offsets: OffsetsLike) -> None:
        self._commit(consumer, offsets)

    def commit(self) -> None:
        self._commit(None, None)

    def abort(self) -> None:
        if self._closed:
            raise TransportClosed("the transactional producer is closed")
        self._open = False
        self._batch.rows = []

    def close(self) -> None:
        if not self._closed:
            self._open = False
            self._batch.rows = []
            self._closed = True
            self._db.close()


# --------------------------------------------------------------------------- consumer groups


def range_assignment(
    members: Sequence[tuple[str, Sequence[str]]], partitions: dict[str, int]
) -> dict[str, set[TopicPartition]]:
    """Kafka's range assignor: per topic, its partitions in contiguous ranges over the members
    subscribed to it, sorted by member id (earlier members get one more when it doesn't divide)."""
    out: dict[str, set[TopicPartition]] = {member: set() for member, _ in members}
    for topic in sorted({t for _, topics in members for t in topics}):
        count = partitions.get(topic)
        if count is None:
            continue
        subscribers = sorted(member for member, topics in members if topic in topics)
        per, extra = divmod(count, len(subscribers))
        start = 0
        for i, member in enumerate(subscribers):
            n = per + (1 if i < extra else 0)
            out[member].update(TopicPartition(topic, p) for p in range(start, start + n))
            start += n
    return out


class EmbeddedConsumer(Consumer):
    def __init__(
        self,
        transport: EmbeddedTransport,
        group_id: str,
        topics: tuple[str, ...],
        *,
        from_beginning: bool,
    ) -> None:
        self.group_id = group_id
        self.topics = topics
        self._transport = transport
        self._from_beginning = from_beginning
        self._db = transport._connect()
        self._topic_ids = {name: transport._topic(name) for name in topics}
        self._topic_names = {tid: name for name, (tid, _) in self._topic_ids.items()}
        self.member_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._owned: dict[TopicPartition, int] = {}  # partition -> position
        self._generation = -1
        self._joined = False
        self._pending = True
        self._last_heartbeat = 0.0
        self._heartbeat_every = transport.session_timeout / 5
        self._rotate = 0
        self._closed = False
        self._sync()

    # -- group membership

    def _maybe_sync(self) -> None:
        if (
            self._pending
            or time.monotonic() - self._last_heartbeat >= self._heartbeat_every
            or self._read_generation() != self._generation
        ):
            self._sync()

    def _read_generation(self) -> int:
        rows = self._db.read("SELECT generation FROM groups WHERE group_id = ?", (self.group_id,))
        return int(rows[0][0]) if rows else -1

    def _sync(self) -> None:
        """Heartbeat, expire dead members, and release/claim partitions (one transaction).

        The new state is computed aside and adopted only once the transaction committed, so a
        failed sync leaves this consumer exactly as it was (and the database too).
        """
        group = self.group_id
        owned = dict(self._owned)
        joined = self._joined
        with self._db.write() as cur:
            now = time.time()
            cur.execute(
                "INSERT OR IGNORE INTO groups (group_id, generation) VALUES (?, 0)", (group,)
            )
            generation = int(
                cur.execute(
                    "SELECT generation FROM groups WHERE group_id = ?", (group,)
                ).fetchone()[0]
            )
            bumped = False
            cur.execute(
                "DELETE FROM members WHERE group_id = ? AND expires_at < ? AND member_id != ?",
                (group, now, self.member_id),
            )
            if cur.rowcount:
                log.info("group %s: %d member(s) expired", group, cur.rowcount)
                bumped = True
            expires = now + self._transport.session_timeout
            cur.execute(
                "UPDATE members SET expires_at = ? WHERE group_id = ? AND member_id = ?",
                (expires, group, self.member_id),
            )
            if cur.rowcount == 0:
                if joined:
                    log.warning(
                        "group %s: member %s had expired; rejoining (its partitions moved)",
                        group,
                        self.member_id,
                    )
                owned.clear()
                cur.execute(
                    "INSERT INTO members (group_id, member_id, topics, expires_at, joined_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (group, self.member_id, json.dumps(list(self.topics)), expires, _now_ms()),
                )
                joined = True
                bumped = True
            if bumped:
                cur.execute(
                    "DELETE FROM owners WHERE group_id = ? AND member_id NOT IN"
                    " (SELECT member_id FROM members WHERE group_id = ?)",
                    (group, group),
                )
                generation += 1
                cur.execute(
                    "UPDATE groups SET generation = ? WHERE group_id = ?", (generation, group)
                )
            pending = self._pending
            if generation != self._generation or pending:
                pending = self._rebalance(cur, owned)
        self._owned, self._joined, self._pending = owned, joined, pending
        self._generation = generation
        self._last_heartbeat = time.monotonic()

    def _rebalance(self, cur: sqlite3.Cursor, owned: dict[TopicPartition, int]) -> bool:
        """Release what this member should not own, claim what it should and is free.

        Updates ``owned`` (partition -> position) in place; the ``owners`` table is the truth.
        Returns whether some wanted partition is still held by another member.
        """
        group = self.group_id
        members = [
            (str(member), tuple(json.loads(topics)))
            for member, topics in cur.execute(
                "SELECT member_id, topics FROM members WHERE group_id = ? ORDER BY member_id",
                (group,),
            )
        ]
        counts: dict[str, int] = {}
        for name in {t for _, topics in members for t in topics}:
            got = cur.execute("SELECT partitions FROM topics WHERE name = ?", (name,)).fetchone()
            if got is not None:
                counts[name] = int(got[0])
        wanted = {
            tp
            for tp in range_assignment(members, counts).get(self.member_id, set())
            if tp.topic in self._topic_ids
        }
        holders: dict[TopicPartition, str] = {}
        for tid, part, member in cur.execute(
            "SELECT topic_id, part, member_id FROM owners WHERE group_id = ?", (group,)
        ):
            name = self._topic_names.get(int(tid))
            if name is not None:
                holders[TopicPartition(name, int(part))] = str(member)
        mine = {tp for tp, member in holders.items() if member == self.member_id}
        for tp in mine - wanted:
            cur.execute(
                "DELETE FROM owners WHERE group_id = ? AND topic_id = ? AND part = ?"
                " AND member_id = ?",
                (group, self._topic_ids[tp.topic][0], tp.partition, self.member_id),
            )
        for tp in list(owned):
            if tp not in wanted or tp not in mine:
                del owned[tp]
        pending = False
        for tp in sorted(wanted):
            holder = holders.get(tp)
            if holder == self.member_id and tp in owned:
                continue
            if holder is not None and holder != self.member_id:
                pending = True  # its owner releases it on its next poll
                continue
            topic_id = self._topic_ids[tp.topic][0]
            if holder is None:
                cur.execute(
                    "INSERT INTO owners (group_id, topic_id, part, member_id) VALUES (?, ?, ?, ?)",
                    (group, topic_id, tp.partition, self.member_id),
                )
            owned[tp] = self._start_offset(cur, topic_id, tp.partition)
        return pending

    def _start_offset(self, cur: sqlite3.Cursor, topic_id: int, part: int) -> int:
        got = cur.execute(
            "SELECT next_offset FROM committed WHERE group_id = ? AND topic_id = ? AND part = ?",
            (self.group_id, topic_id, part),
        ).fetchone()
        if got is not None:
            return int(got[0])
        if self._from_beginning:
            return 0
        end = cur.execute(
            "SELECT end_offset FROM partitions WHERE topic_id = ? AND part = ?", (topic_id, part)
        ).fetchone()
        return int(end[0])

    # -- reading

    def _check_open(self) -> None:
        if self._closed:
            raise TransportClosed("the consumer is closed")

    def poll(self, max_messages: int = 500, timeout: float = 1.0) -> list[Message]:
        self._check_open()
        if max_messages < 1:
            raise TransportInputError("max_messages must be >= 1")
        deadline = time.monotonic() + max(timeout, 0.0)
        delay = 0.001
        while True:
            self._maybe_sync()
            messages = self._fetch(max_messages)
            if messages:
                return messages
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.02)

    def _fetch(self, max_messages: int) -> list[Message]:
        if not self._owned:
            return []
        topic_ids = sorted({self._topic_ids[tp.topic][0] for tp in self._owned})
        marks = ",".join("?" * len(topic_ids))
        ends = {
            (int(tid), int(part)): int(end)
            for tid, part, end in self._db.read(
                f"SELECT topic_id, part, end_offset FROM partitions WHERE topic_id IN ({marks})",
                topic_ids,
            )
        }
        ready = [
            tp
            for tp, pos in sorted(self._owned.items())
            if ends.get((self._topic_ids[tp.topic][0], tp.partition), 0) > pos
        ]
        if not ready:
            return []
        self._rotate += 1
        start = self._rotate % len(ready)
        out: list[Message] = []
        for tp in ready[start:] + ready[:start]:
            want = max_messages - len(out)
            if want <= 0:
                break
            position = self._owned[tp]
            rows = self._db.read(
                "SELECT msg_offset, timestamp_ms, key, value, headers FROM messages"
                " WHERE topic_id = ? AND part = ? AND msg_offset >= ?"
                " ORDER BY msg_offset LIMIT ?",
                (self._topic_ids[tp.topic][0], tp.partition, position, want),
            )
            topic, part = tp
            out.extend(
                Message(topic, part, offset, key, value, _decode_headers(headers), ts)
                for offset, ts, key, value, headers in rows
            )
            if rows:
                self._owned[tp] = rows[-1][0] + 1
        return out

    # -- offsets

    def _resolve(self, offsets: dict[TopicPartition, int]) -> list[tuple[int, int, int]]:
        resolved = []
        for tp, offset in offsets.items():
            if tp.topic not in self._topic_ids:
                raise CommitFailed(f"{tp.topic!r} is not a topic of this consumer")
            resolved.append((self._topic_ids[tp.topic][0], tp.partition, offset))
        return resolved

    def _store_offsets(self, cur: sqlite3.Cursor, offsets: dict[TopicPartition, int]) -> None:
        """Inside the caller's write transaction: check this member still owns the partitions,
        heartbeat, and store the offsets. Raises CommitFailed."""
        resolved = self._resolve(offsets)
        cur.execute(
            "UPDATE members SET expires_at = ? WHERE group_id = ? AND member_id = ?",
            (time.time() + self._transport.session_timeout, self.group_id, self.member_id),
        )
        if cur.rowcount == 0:
            raise CommitFailed(
                f"consumer {self.member_id} is no longer a member of group {self.group_id!r}"
                " (session expired); its partitions were reassigned"
            )
        for topic_id, part, _ in resolved:
            row = cur.execute(
                "SELECT member_id FROM owners WHERE group_id = ? AND topic_id = ? AND part = ?",
                (self.group_id, topic_id, part),
            ).fetchone()
            if row is None or row[0] != self.member_id:
                raise CommitFailed(
                    f"partition {self._topic_names[topic_id]}[{part}] is not assigned to this"
                    f" consumer of group {self.group_id!r} any more"
                )
        now = _now_ms()
        cur.executemany(
            "INSERT INTO committed (group_id, topic_id, part, next_offset, committed_ms)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id, topic_id, part)"
            " DO UPDATE SET next_offset = excluded.next_offset,"
            " committed_ms = excluded.committed_ms",
            [(self.group_id, tid, part, off, now) for tid, part, off in resolved],
        )

    def commit(self, offsets: OffsetsLike | None = None) -> None:
        self._check_open()
        wanted = dict(self._owned) if offsets is None else normalize_offsets(offsets)
        if not wanted:
            return
        try:
            with self._db.write() as cur:
                self._store_offsets(cur, wanted)
        except CommitFailed:
            self._pending = True  # resync on the next poll
            raise

    def seek(self, partition: TopicPartition | tuple[str, int], offset: int) -> None:
        self._check_open()
        tp = TopicPartition(*partition)
        if tp not in self._owned:
            raise TransportInputError(
                f"{tp.topic}[{tp.partition}] is not assigned to this consumer"
            )
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise TransportInputError(f"offset must be an int >= 0, got {offset!r}")
        self._owned[tp] = offset

    def assignment(self) -> frozenset[TopicPartition]:
        self._check_open()
        return frozenset(self._owned)

    def position(self) -> dict[TopicPartition, int]:
        self._check_open()
        return dict(self._owned)

    def committed(self) -> dict[TopicPartition, int]:
        self._check_open()
        out: dict[TopicPartition, int] = {}
        for tid, part, offset in self._db.read(
            "SELECT topic_id, part, next_offset FROM committed WHERE group_id = ?",
            (self.group_id,),
        ):
            name = self._topic_names.get(int(tid))
            if name is not None:
                out[TopicPartition(name, int(part))] = int(offset)
        return out

    def lag(self) -> Lag:
        committed = self.committed()
        per: dict[TopicPartition, int] = {}
        for name in self.topics:
            for part, end in self._transport_end_offsets(name).items():
                tp = TopicPartition(name, part)
                base = committed.get(tp, 0 if self._from_beginning else end)
                per[tp] = max(end - base, 0)
        return Lag(sum(per.values()), per)

    def _transport_end_offsets(self, topic: str) -> dict[int, int]:
        rows = self._db.read(
            "SELECT part, end_offset FROM partitions WHERE topic_id = ?",
            (self._topic_ids[topic][0],),
        )
        return {int(p): int(e) for p, e in rows}

    def close(self) -> None:
        """Leave the group (its partitions go to the other members at once)."""
        if self._closed:
            return
        self._closed = True
        try:
            with self._db.write() as cur:
                cur.execute(
                    "DELETE FROM members WHERE group_id = ? AND member_id = ?",
                    (self.group_id, self.member_id),
                )
                cur.execute(
                    "DELETE FROM owners WHERE group_id = ? AND member_id = ?",
                    (self.group_id, self.member_id),
                )
                cur.execute(
                    "UPDATE groups SET generation = generation + 1 WHERE group_id = ?",
                    (self.group_id,),
                )
        except TransportError as exc:  # the others will expire us instead
            log.warning(
                "consumer %s could not leave group %s: %s", self.member_id, self.group_id, exc
            )
        finally:
            self._owned.clear()
            self._db.close()
