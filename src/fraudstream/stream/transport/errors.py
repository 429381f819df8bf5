"""Errors raised by transports.

Every error here derives from :class:`TransportError`, itself a :class:`FraudstreamError`, so a
caller can catch the whole transport layer with one ``except``. Messages never contain secrets
(passwords, tokens): build them from :func:`fraudstream.stream.transport.url.redacted` output only.
"""

from __future__ import annotations

from fraudstream.errors import FraudstreamError, InvalidInput, NotFound


class TransportError(FraudstreamError):
    """Base class of every error a transport raises (broker down, database locked, ...)."""


class TransportInputError(TransportError, InvalidInput):
    """A transport URL, topic name, partition count, offset or argument was rejected."""


class UnknownTopic(TransportError, NotFound):
    """The topic does not exist (create it with ``Transport.create_topics`` first)."""


class TransportClosed(TransportError):
    """The transport, producer or consumer was used after ``close()``."""


class DeliveryFailed(TransportError):
    """``flush()`` found messages that could not be written; ``failed`` says how many."""

    def __init__(self, message: str, failed: int) -> None:
        super().__init__(message)
        self.failed = failed


class CommitFailed(TransportError):
    """Offsets were not committed: a partition is no longer assigned to this consumer.

    Happens after a rebalance (a member joined, left or expired). Nothing was written; the
    messages will be delivered again to the partition's new owner (at-least-once).
    """


class TransactionAborted(TransportError):
    """The transaction was rolled back: none of its messages or offsets are visible.

    The inputs will be consumed again (from the committed offsets), so retrying the work from
    there is safe.
    """


class FatalTransportError(TransportError):
    """The client can never work again: retrying cannot help, so loops stop on it.

    Raised for Kafka's fatal errors (``KafkaError.fatal()``: a fenced idempotent or
    transactional producer, a static consumer fenced by another with the same
    ``group.instance.id``, an unrecoverable protocol state) and for fenced producers. Close the
    client; the process exits non-zero so its supervisor (or a person) restarts it once the
    cause is fixed. Retriable errors stay plain :class:`TransportError`.
    """


class ProducerFenced(FatalTransportError):
    """Another transactional producer with the same ``transactional_id`` took over.

    This producer can do nothing more; close it (it is a zombie of an earlier instance).
    """
