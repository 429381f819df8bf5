"""The Kafka producer: confluent-kafka's, idempotent, with failures surfaced on ``flush``.

Delivery reports are counted; ``flush`` raises :class:`DeliveryFailed` for messages the broker
refused (the caller produces them again) and :class:`FatalTransportError` once librdkafka says
the producer can never deliver again (e.g. an idempotent producer fenced or out of sequence).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Message as KMessage
from confluent_kafka import Producer as KProducer

from fraudstream.stream.transport.base import HeadersLike, Producer, to_bytes
from fraudstream.stream.transport.errors import DeliveryFailed, TransportClosed, TransportError
from fraudstream.stream.transport.kafka.errors import FatalLatch, classify, describe, is_fatal
from fraudstream.stream.transport.kafka.messages import headers_for_kafka

if TYPE_CHECKING:
    from fraudstream.stream.transport.kafka.transport import ConfigValue, KafkaTransport

__all__ = ["KafkaProducer", "ProducerBase"]


class ProducerBase:
    """What plain and transactional producers share: the client, produce, delivery reports."""

    def __init__(self, transport: KafkaTransport, extra: Mapping[str, ConfigValue]) -> None:
        self._transport = transport
        self._fatal = FatalLatch()
        conf = transport.client_config(
            "producer",
            {"enable.idempotence": True, "partitioner": "murmur2_random", "linger.ms": 5},
            error_cb=self._fatal,
        )
        conf.update(extra)
        try:
            self._producer = KProducer(conf)
        except KafkaException as exc:
            raise transport.config_error("producer", exc) from None
        self._failed = 0
        self._first_failure: str | None = None
        self._closed = False

    def _on_delivery(self, err: KafkaError | None, msg: KMessage) -> None:
        if err is not None:
            if is_fatal(err) and self._fatal.error is None:
                self._fatal.error = describe(err)
            self._failed += 1
            if self._first_failure is None:
                self._first_failure = f"{msg.topic()}: {describe(err)}"

    def _produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None,
        headers: HeadersLike,
    ) -> None:
        if self._closed:
            raise TransportClosed("the producer is closed")
        self._fatal.check("produce")
        raw_value = to_bytes(value, "value")
        raw_key = None if key is None else to_bytes(key, "key")
        kheaders = headers_for_kafka(headers)
        deadline = time.monotonic() + self._transport.timeout
        while True:
            try:
                self._producer.produce(
                    topic, raw_value, raw_key, headers=kheaders, on_delivery=self._on_delivery
                )
                break
            except BufferError:  # local queue full: let deliveries drain
                if time.monotonic() > deadline:
                    raise TransportError(
                        "producer queue stayed full; is the broker reachable?"
                    ) from None
                self._producer.poll(0.05)
            except KafkaException as exc:
                raise classify(f"produce to {topic!r} failed", exc) from exc
        self._producer.poll(0)

    def _raise_failures(self) -> None:
        self._fatal.check("delivery")
        if self._failed:
            failed, first = self._failed, self._first_failure
            self._failed, self._first_failure = 0, None
            raise DeliveryFailed(f"{failed} message(s) not delivered; first: {first}", failed)


class KafkaProducer(ProducerBase, Producer):
    def __init__(self, transport: KafkaTransport) -> None:
        super().__init__(transport, {})

    def produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None = None,
        headers: HeadersLike = None,
    ) -> None:
        self._produce(topic, value, key, headers)

    def flush(self, timeout: float | None = None) -> None:
        if self._closed:
            return
        remaining = self._producer.flush(self._transport.timeout if timeout is None else timeout)
        self._fatal.check("flush")
        if remaining:
            raise TransportError(f"flush timed out with {remaining} message(s) still queued")
        self._raise_failures()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
