"""The embedded consumer: reads the partitions its :class:`GroupMember` owns.

``poll`` backs off from 1 to 20 ms while nothing is there, and rotates the partition it starts
with so one busy partition cannot starve the others. ``session_timeout`` is also the longest a
consumer may go without calling ``poll`` (that is when it heartbeats).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fraudstream.stream.transport.base import (
    Consumer,
    Lag,
    Message,
    OffsetsLike,
    TopicPartition,
    group_lag,
    normalize_offsets,
    validate_max_messages,
    validate_seek,
)
from fraudstream.stream.transport.embedded import storage
from fraudstream.stream.transport.embedded.groups import GroupMember
from fraudstream.stream.transport.errors import TransportClosed

if TYPE_CHECKING:
    from fraudstream.stream.transport.embedded.transport import EmbeddedTransport

__all__ = ["EmbeddedConsumer"]


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
        self.log_path = transport.path
        self._from_beginning = from_beginning
        self._db = transport.connect()
        self.member = GroupMember(
            self._db,
            group_id,
            {name: transport.catalog.lookup(name) for name in topics},
            session_timeout=transport.session_timeout,
            from_beginning=from_beginning,
        )
        self._rotate = 0
        self._closed = False
        self.member.sync()

    @property
    def member_id(self) -> str:
        return self.member.member_id

    def _check_open(self) -> None:
        if self._closed:
            raise TransportClosed("the consumer is closed")

    # -- reading

    def poll(self, max_messages: int = 500, timeout: float = 1.0) -> list[Message]:
        self._check_open()
        validate_max_messages(max_messages)
        deadline = time.monotonic() + max(timeout, 0.0)
        delay = 0.001
        while True:
            self.member.maybe_sync()
            messages = self._fetch(max_messages)
            if messages:
                return messages
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.02)

    def _fetch(self, max_messages: int) -> list[Message]:
        owned, topic_ids = self.member.owned, self.member.topic_ids
        if not owned:
            return []
        ends = storage.end_offsets(self._db, sorted({topic_ids[tp.topic][0] for tp in owned}))
        ready = [
            tp
            for tp, pos in sorted(owned.items())
            if ends.get((topic_ids[tp.topic][0], tp.partition), 0) > pos
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
            got = storage.read(
                self._db, tp.topic, topic_ids[tp.topic][0], tp.partition, owned[tp], want
            )
            out.extend(got)
            if got:
                owned[tp] = got[-1].offset + 1
        return out

    # -- offsets

    def commit(self, offsets: OffsetsLike | None = None) -> None:
        self._check_open()
        wanted = dict(self.member.owned) if offsets is None else normalize_offsets(offsets)
        if not wanted:
            return
        with self._db.write() as cur:
            self.member.store_offsets(cur, wanted)

    def seek(self, partition: TopicPartition | tuple[str, int], offset: int) -> None:
        self._check_open()
        tp = validate_seek(partition, offset, self.member.owned)
        self.member.owned[tp] = offset

    def assignment(self) -> frozenset[TopicPartition]:
        self._check_open()
        return frozenset(self.member.owned)

    def position(self) -> dict[TopicPartition, int]:
        self._check_open()
        return dict(self.member.owned)

    def committed(self) -> dict[TopicPartition, int]:
        self._check_open()
        return self.member.committed()

    def lag(self) -> Lag:
        return group_lag(
            self.topics, self.committed(), self._watermarks, from_beginning=self._from_beginning
        )

    def _watermarks(self, topic: str) -> dict[int, tuple[int, int]]:
        topic_id = self.member.topic_ids[topic][0]
        ends = storage.end_offsets(self._db, [topic_id])
        return {part: (0, end) for (_, part), end in ends.items()}

    def close(self) -> None:
        """Leave the group (its partitions go to the other members at once)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.member.leave()
        finally:
            self._db.close()
