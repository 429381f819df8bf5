"""Consumer-group membership, partition ownership and committed offsets in the log file.

Each member heartbeats (at most every ``session_timeout / 5`` seconds, from ``poll``); a member
whose heartbeat is older than ``session_timeout`` is deleted by the next member that
heartbeats, and every change of membership bumps the group's generation. The wanted assignment
is :func:`~fraudstream.stream.transport.embedded.assignor.range_assignment` of the live
members. A member releases the partitions it should not own on its next sync and claims a
partition only once no live member owns it, so one partition never has two readers. Commits
check ownership in the same SQLite transaction; a stale member gets :class:`CommitFailed`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Mapping

from fraudstream.stream.transport.base import TopicPartition
from fraudstream.stream.transport.embedded.assignor import range_assignment
from fraudstream.stream.transport.embedded.database import Database, now_ms
from fraudstream.stream.transport.errors import CommitFailed, TransportError

__all__ = ["GroupMember"]

log = logging.getLogger(__name__)


class GroupMember:
    """One member of ``group_id``: its heartbeat, owned partitions and their positions.

    ``owned`` maps each owned partition to the next offset to read; the ``owners`` table is the
    truth and ``owned`` follows it after each :meth:`sync`.
    """

    def __init__(
        self,
        db: Database,
        group_id: str,
        topic_ids: Mapping[str, tuple[int, int]],
        *,
        session_timeout: float,
        from_beginning: bool,
    ) -> None:
        self.db = db
        self.group_id = group_id
        self.topics = tuple(topic_ids)
        self.topic_ids = dict(topic_ids)
        self.topic_names = {tid: name for name, (tid, _) in self.topic_ids.items()}
        self.member_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.session_timeout = session_timeout
        self.from_beginning = from_beginning
        self.owned: dict[TopicPartition, int] = {}
        #: Resync on the next poll (a wanted partition was still held, or a commit failed).
        self.pending = True
        self._generation = -1
        self._joined = False
        self._last_heartbeat = 0.0
        self._heartbeat_every = session_timeout / 5

    # -- membership

    def maybe_sync(self) -> None:
        if (
            self.pending
            or time.monotonic() - self._last_heartbeat >= self._heartbeat_every
            or self._read_generation() != self._generation
        ):
            self.sync()

    def _read_generation(self) -> int:
        rows = self.db.read("SELECT generation FROM groups WHERE group_id = ?", (self.group_id,))
        return int(rows[0][0]) if rows else -1

    def sync(self) -> None:
        """Heartbeat, expire dead members, and release/claim partitions (one transaction).

        The new state is computed aside and adopted only once the transaction committed, so a
        failed sync leaves this member exactly as it was (and the database too).
        """
        group = self.group_id
        owned = dict(self.owned)
        joined = self._joined
        with self.db.write() as cur:
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
            expires = now + self.session_timeout
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
                    (group, self.member_id, json.dumps(list(self.topics)), expires, now_ms()),
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
            pending = self.pending
            if generation != self._generation or pending:
                pending = self._rebalance(cur, owned)
        self.owned, self._joined, self.pending = owned, joined, pending
        self._generation = generation
        self._last_heartbeat = time.monotonic()

    def _rebalance(self, cur: sqlite3.Cursor, owned: dict[TopicPartition, int]) -> bool:
        """Release what this member should not own, claim what it should and is free.

        Updates ``owned`` in place. Returns whether some wanted partition is still held by
        another member (its owner releases it on its next sync).
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
            if tp.topic in self.topic_ids
        }
        holders: dict[TopicPartition, str] = {}
        for tid, part, member in cur.execute(
            "SELECT topic_id, part, member_id FROM owners WHERE group_id = ?", (group,)
        ):
            name = self.topic_names.get(int(tid))
            if name is not None:
                holders[TopicPartition(name, int(part))] = str(member)
        mine = {tp for tp, member in holders.items() if member == self.member_id}
        for tp in mine - wanted:
            cur.execute(
                "DELETE FROM owners WHERE group_id = ? AND topic_id = ? AND part = ?"
                " AND member_id = ?",
                (group, self.topic_ids[tp.topic][0], tp.partition, self.member_id),
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
                pending = True
                continue
            topic_id = self.topic_ids[tp.topic][0]
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
        if self.from_beginning:
            return 0
        end = cur.execute(
            "SELECT end_offset FROM partitions WHERE topic_id = ? AND part = ?", (topic_id, part)
        ).fetchone()
        return int(end[0])

    def leave(self) -> None:
        """Leave the group: its partitions go to the other members at once."""
        try:
            with self.db.write() as cur:
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
            self.owned.clear()

    # -- offsets

    def store_offsets(self, cur: sqlite3.Cursor, offsets: Mapping[TopicPartition, int]) -> None:
        """Inside the caller's write transaction: check this member still owns the partitions,
        heartbeat, and store the offsets. Raises CommitFailed (and resyncs on the next poll)."""
        try:
            self._store_offsets(cur, offsets)
        except CommitFailed:
            self.pending = True
            raise

    def _store_offsets(self, cur: sqlite3.Cursor, offsets: Mapping[TopicPartition, int]) -> None:
        resolved = []
        for tp, offset in offsets.items():
            if tp.topic not in self.topic_ids:
                raise CommitFailed(f"{tp.topic!r} is not a topic of this consumer")
            resolved.append((self.topic_ids[tp.topic][0], tp.partition, offset))
        cur.execute(
            "UPDATE members SET expires_at = ? WHERE group_id = ? AND member_id = ?",
            (time.time() + self.session_timeout, self.group_id, self.member_id),
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
                    f"partition {self.topic_names[topic_id]}[{part}] is not assigned to this"
                    f" consumer of group {self.group_id!r} any more"
                )
        now = now_ms()
        cur.executemany(
            "INSERT INTO committed (group_id, topic_id, part, next_offset, committed_ms)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id, topic_id, part)"
            " DO UPDATE SET next_offset = excluded.next_offset,"
            " committed_ms = excluded.committed_ms",
            [(self.group_id, tid, part, off, now) for tid, part, off in resolved],
        )

    def committed(self) -> dict[TopicPartition, int]:
        """The group's committed offsets on this member's topics."""
        out: dict[TopicPartition, int] = {}
        for tid, part, offset in self.db.read(
            "SELECT topic_id, part, next_offset FROM committed WHERE group_id = ?",
            (self.group_id,),
        ):
            name = self.topic_names.get(int(tid))
            if name is not None:
                out[TopicPartition(name, int(part))] = int(offset)
        return out
