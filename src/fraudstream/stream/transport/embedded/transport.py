"""The embedded transport: a durable event log in one SQLite file, no server.

Several local processes can share the file (WAL mode: readers never block the single writer;
``busy_timeout`` makes writers queue). Every client opens its own connection
(:meth:`EmbeddedTransport.connect`); the transport's own one serves topic metadata.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from fraudstream.stream.transport.base import (
    Transport,
    validate_subscription,
    validate_transactional_id,
)
from fraudstream.stream.transport.embedded.consumer import EmbeddedConsumer
from fraudstream.stream.transport.embedded.database import Database
from fraudstream.stream.transport.embedded.producer import EmbeddedProducer
from fraudstream.stream.transport.embedded.schema import init_schema
from fraudstream.stream.transport.embedded.storage import Catalog, end_offsets
from fraudstream.stream.transport.embedded.transactions import EmbeddedTransactionalProducer
from fraudstream.stream.transport.errors import (
    TransportClosed,
    TransportError,
    TransportInputError,
)

__all__ = ["EmbeddedTransport"]


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
        self._db = self.connect()
        init_schema(self._db, self.busy_timeout)
        self.catalog = Catalog(self._db)
        self._closed = False

    def connect(self) -> Database:
        """A new connection to the log file (one per client)."""
        return Database(self.path, self.busy_timeout, self.synchronous)

    def _check_open(self) -> None:
        if self._closed:
            raise TransportClosed("the transport is closed")

    # -- topics

    def create_topics(self, names: Iterable[str], partitions: int = 1) -> None:
        self._check_open()
        self.catalog.create(names, partitions)

    def partitions_for(self, topic: str) -> int:
        self._check_open()
        return self.catalog.lookup(topic)[1]

    def topics(self) -> dict[str, int]:
        """Every topic and its partition count."""
        self._check_open()
        return self.catalog.all()

    def end_offsets(self, topic: str) -> dict[int, int]:
        self._check_open()
        topic_id, _ = self.catalog.lookup(topic)
        ends = end_offsets(self._db, [topic_id])
        return {part: end for (_, part), end in sorted(ends.items())}

    def committed_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        self._check_open()
        topic_id, _ = self.catalog.lookup(topic)
        rows = self._db.read(
            "SELECT part, next_offset FROM committed WHERE group_id = ? AND topic_id = ?",
            (group_id, topic_id),
        )
        return {int(part): int(offset) for part, offset in rows}

    # -- clients

    def producer(self) -> EmbeddedProducer:
        self._check_open()
        return EmbeddedProducer(self)

    def transactional_producer(self, transactional_id: str) -> EmbeddedTransactionalProducer:
        self._check_open()
        return EmbeddedTransactionalProducer(self, validate_transactional_id(transactional_id))

    def consumer(
        self, group_id: str, topics: Iterable[str], *, from_beginning: bool = True
    ) -> EmbeddedConsumer:
        self._check_open()
        names = validate_subscription(group_id, topics)
        for name in names:
            self.catalog.lookup(name)
        return EmbeddedConsumer(self, group_id, names, from_beginning=from_beginning)

    def redacted(self) -> str:
        return f"embedded://{self.path}"

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()
