"""Exactly-once on the embedded log: outputs and input offsets in one SQLite transaction.

Each ``transactional_id`` has an epoch in ``producers``; opening a producer bumps it, so an
older producer with the same id finds a newer epoch at commit time and is fenced
(:class:`ProducerFenced`). Until commit the messages only live in memory, which makes abort
free and a crash equivalent to an abort.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fraudstream.stream.transport.base import (
    Consumer,
    HeadersLike,
    OffsetsLike,
    TopicPartition,
    TransactionalProducer,
    normalize_offsets,
)
from fraudstream.stream.transport.embedded.consumer import EmbeddedConsumer
from fraudstream.stream.transport.embedded.groups import GroupMember
from fraudstream.stream.transport.embedded.storage import RowBatch, append
from fraudstream.stream.transport.errors import (
    CommitFailed,
    ProducerFenced,
    TransactionAborted,
    TransportClosed,
    TransportInputError,
)

if TYPE_CHECKING:
    from fraudstream.stream.transport.embedded.transport import EmbeddedTransport

__all__ = ["EmbeddedTransactionalProducer"]


class EmbeddedTransactionalProducer(TransactionalProducer):
    def __init__(self, transport: EmbeddedTransport, transactional_id: str) -> None:
        self.transactional_id = transactional_id
        self._log_path = transport.path
        self._db = transport.connect()
        self._batch = RowBatch(transport.catalog)
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
        self._check_state(closed=self._closed, fenced=self._fenced, want_open=want_open)

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

    def _member(self, consumer: Consumer) -> GroupMember:
        if not isinstance(consumer, EmbeddedConsumer) or consumer.log_path != self._log_path:
            raise TransportInputError(
                "commit_with_offsets needs a consumer of the same embedded log"
            )
        return consumer.member

    def _commit(self, member: GroupMember | None, offsets: dict[TopicPartition, int]) -> None:
        self._check(want_open=True)
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
                if member is not None:
                    member.store_offsets(cur, offsets)
                append(cur, self._batch.rows)
        except ProducerFenced:
            self._end()
            raise
        except CommitFailed as exc:
            self._end()
            raise TransactionAborted(f"transaction aborted: {exc}") from exc
        # Any other error (the log busy, the disk full) leaves the transaction open: the caller
        # retries the commit or aborts.
        self._end()

    def _end(self) -> None:
        self._open = False
        self._batch.rows = []

    def commit_with_offsets(self, consumer: Consumer, offsets: OffsetsLike) -> None:
        self._check(want_open=True)
        self._commit(self._member(consumer), normalize_offsets(offsets))

    def commit(self) -> None:
        self._commit(None, {})

    def abort(self) -> None:
        if self._closed:
            raise TransportClosed("the transactional producer is closed")
        self._end()

    def close(self) -> None:
        if not self._closed:
            self._end()
            self._closed = True
            self._db.close()
