"""The embedded producer: buffers messages and appends them in one write transaction.

A batch is written when it reaches ``batch_size``, on ``flush()``, or ``linger`` seconds after
its first message (a background thread), so many small produces cost one SQLite commit. With
``synchronous=NORMAL`` (the default) a committed batch survives a crash of the process; a power
loss may lose the last batches (``synchronous="FULL"`` prevents that at some speed cost).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from fraudstream.stream.transport.base import HeadersLike, Producer
from fraudstream.stream.transport.embedded.storage import RowBatch, append
from fraudstream.stream.transport.errors import TransportClosed

if TYPE_CHECKING:
    from fraudstream.stream.transport.embedded.transport import EmbeddedTransport

__all__ = ["EmbeddedProducer"]

log = logging.getLogger(__name__)


class EmbeddedProducer(Producer):
    def __init__(self, transport: EmbeddedTransport) -> None:
        self._batch_size = transport.batch_size
        self._linger = transport.linger
        self._db = transport.connect()
        self._batch = RowBatch(transport.catalog)
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
            if len(self._batch.rows) >= self._batch_size:
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
        with self._db.write() as cur:
            append(cur, self._batch.rows)
        self._batch.rows = []
        self._error = None

    def _linger_loop(self) -> None:
        linger = self._linger
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
            if self._closed or not self._batch.rows:
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
