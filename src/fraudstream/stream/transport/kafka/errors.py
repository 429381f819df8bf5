"""librdkafka's errors mapped onto the transport's: which ones a loop may retry, which are fatal.

librdkafka marks an error *fatal* (``KafkaError.fatal()``, or the ``_FATAL`` code a client
returns once one happened) when the client instance can never work again: an idempotent or
transactional producer fenced or out of sequence, a static consumer fenced by another with the
same ``group.instance.id``. Retrying such a client only spins, so :func:`classify` turns them
into :class:`FatalTransportError`, which every loop lets through. Everything else (broker down,
timeouts, rebalances) stays a plain, retriable :class:`TransportError`.

Fatal errors that happen in the background (heartbeats, idempotent produce) reach us through
the client's ``error_cb``; :class:`FatalLatch` remembers the first one so the next call on that
client raises it.
"""

from __future__ import annotations

import logging
from typing import Final

from confluent_kafka import KafkaError, KafkaException

from fraudstream.stream.transport.errors import FatalTransportError, TransportError

__all__ = [
    "FENCED_CODES",
    "REBALANCE_CODES",
    "FatalLatch",
    "classify",
    "describe",
    "is_fatal",
    "kafka_error",
    "librdkafka_log",
]

#: librdkafka's own log (``logger`` of every client).
librdkafka_log = logging.getLogger("fraudstream.stream.transport.kafka.librdkafka")

REBALANCE_CODES: Final = {
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError._ASSIGNMENT_LOST,
    KafkaError.FENCED_INSTANCE_ID,
}
FENCED_CODES: Final = {
    KafkaError._FENCED,
    KafkaError.PRODUCER_FENCED,
    KafkaError.INVALID_PRODUCER_EPOCH,
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}


def kafka_error(exc: BaseException) -> KafkaError | None:
    """The :class:`KafkaError` a :class:`KafkaException` carries, if any."""
    if not isinstance(exc, KafkaException):
        return None
    arg = exc.args[0] if exc.args else None
    return arg if isinstance(arg, KafkaError) else None


def describe(exc: BaseException | KafkaError) -> str:
    err = exc if isinstance(exc, KafkaError) else kafka_error(exc)
    return f"{err.name()}: {err.str()}" if err is not None else str(exc)


def is_fatal(err: KafkaError | None) -> bool:
    return err is not None and (bool(err.fatal()) or err.code() == KafkaError._FATAL)


def _fatal(what: str, text: str) -> FatalTransportError:
    return FatalTransportError(
        f"{what}: fatal Kafka error {text}; this client cannot recover, so it stops here"
        " (fix the cause, then restart)"
    )


def classify(what: str, exc: KafkaException | KafkaError) -> TransportError:
    """The error to raise for a failed client call: fatal or retriable (see the module docs)."""
    err = exc if isinstance(exc, KafkaError) else kafka_error(exc)
    if is_fatal(err):
        return _fatal(what, describe(exc))
    return TransportError(f"{what}: {describe(exc)}")


class FatalLatch:
    """A client's ``error_cb``: logs every error and keeps the first fatal one."""

    def __init__(self) -> None:
        self.error: str | None = None

    def __call__(self, err: KafkaError) -> None:
        if is_fatal(err):
            librdkafka_log.error("fatal Kafka client error %s: %s", err.name(), err.str())
            if self.error is None:
                self.error = describe(err)
        else:
            librdkafka_log.warning("Kafka client error %s: %s", err.name(), err.str())

    def check(self, what: str) -> None:
        """Raise :class:`FatalTransportError` once the client had a fatal error."""
        if self.error is not None:
            raise _fatal(what, self.error)
