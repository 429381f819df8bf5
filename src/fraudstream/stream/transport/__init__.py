"""Event-log transports: the embedded SQLite log (default) and Kafka, behind one contract.

::

    from fraudstream.stream.transport import open_transport, transport_url_from_env

    with open_transport(transport_url_from_env()) as transport:
        transport.create_topics(["transactions"], partitions=4)
        with transport.producer() as producer:
            producer.produce("transactions", b'{"amount": 12.5}', key=b"customer-1")
        with transport.consumer("scorer", ["transactions"]) as consumer:
            for message in consumer.poll(timeout=1.0):
                ...
            consumer.commit()

See :mod:`fraudstream.stream.transport.base` for the semantics both implementations share.
``EmbeddedTransport`` and ``KafkaTransport`` are imported lazily (``KafkaTransport`` loads
librdkafka).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fraudstream.stream.transport.base import (
    Consumer,
    Lag,
    Message,
    Producer,
    TopicPartition,
    TransactionalProducer,
    Transport,
    murmur2,
    partition_for_key,
)
from fraudstream.stream.transport.errors import (
    CommitFailed,
    DeliveryFailed,
    FatalTransportError,
    ProducerFenced,
    TransactionAborted,
    TransportClosed,
    TransportError,
    TransportInputError,
    UnknownTopic,
)
from fraudstream.stream.transport.url import (
    DEFAULT_TRANSPORT_URL,
    ENV_VAR,
    TransportUrl,
    open_transport,
    parse_transport_url,
    redacted,
    transport_url_from_env,
)

if TYPE_CHECKING:
    from fraudstream.stream.transport.embedded import EmbeddedTransport
    from fraudstream.stream.transport.kafka import KafkaTransport

__all__ = [
    "DEFAULT_TRANSPORT_URL",
    "ENV_VAR",
    "CommitFailed",
    "Consumer",
    "DeliveryFailed",
    "EmbeddedTransport",
    "FatalTransportError",
    "KafkaTransport",
    "Lag",
    "Message",
    "Producer",
    "ProducerFenced",
    "TopicPartition",
    "TransactionAborted",
    "TransactionalProducer",
    "Transport",
    "TransportClosed",
    "TransportError",
    "TransportInputError",
    "TransportUrl",
    "UnknownTopic",
    "murmur2",
    "open_transport",
    "parse_transport_url",
    "partition_for_key",
    "redacted",
    "transport_url_from_env",
]


def __getattr__(name: str) -> Any:
    if name == "EmbeddedTransport":
        from fraudstream.stream.transport.embedded import EmbeddedTransport

        return EmbeddedTransport
    if name == "KafkaTransport":
        from fraudstream.stream.transport.kafka import KafkaTransport

        return KafkaTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
