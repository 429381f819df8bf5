"""The Kafka transport (confluent-kafka), one concept a module:

* :mod:`.transport` — :class:`KafkaTransport`: configuration, admin, topics, handing out clients;
* :mod:`.errors` — librdkafka's errors mapped to retriable and fatal transport errors;
* :mod:`.messages` — records to and from confluent-kafka's types;
* :mod:`.producer`, :mod:`.consumer`, :mod:`.transactions` — the clients of the contract in
  :mod:`fraudstream.stream.transport.base`.
"""

from __future__ import annotations

from fraudstream.stream.transport.kafka.consumer import KafkaConsumer
from fraudstream.stream.transport.kafka.producer import KafkaProducer
from fraudstream.stream.transport.kafka.transactions import KafkaTransactionalProducer
from fraudstream.stream.transport.kafka.transport import ConfigValue, KafkaTransport

__all__ = [
    "ConfigValue",
    "KafkaConsumer",
    "KafkaProducer",
    "KafkaTransactionalProducer",
    "KafkaTransport",
]
