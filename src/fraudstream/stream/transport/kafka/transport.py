"""The Kafka transport: the same contract on Apache Kafka / Amazon MSK / Redpanda (confluent-kafka).

``config`` holds librdkafka properties given to every client (``security.protocol``,
``sasl.mechanism``, ``sasl.username``, ``sasl.password``, ``ssl.ca.location``...). A key prefixed
with ``producer.``, ``consumer.`` or ``admin.`` goes to that kind of client only, without the
prefix (``consumer.session.timeout.ms=6000``).

Defaults we set (a client-specific key overrides them):

* producers: ``enable.idempotence=true`` (no duplicates or reordering on retries),
  ``partitioner=murmur2_random`` (the Java client's partitioner: a key goes to the same partition
  number as on :class:`~fraudstream.stream.transport.embedded.EmbeddedTransport`), ``linger.ms=5``;
* consumers: ``enable.auto.commit=false`` (commits are explicit and synchronous),
  ``isolation.level=read_committed``, ``auto.offset.reset`` from ``from_beginning``.

librdkafka's own log goes to the ``fraudstream.stream.transport.kafka.librdkafka`` logger. No
message of ours contains a config value. Fatal client errors raise
:class:`~fraudstream.stream.transport.errors.FatalTransportError` (:mod:`.errors`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from confluent_kafka import Consumer as KConsumer
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as KTopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from fraudstream.stream.transport.base import (
    Transport,
    validate_partitions,
    validate_subscription,
    validate_topic_name,
    validate_transactional_id,
)
from fraudstream.stream.transport.errors import (
    TransportClosed,
    TransportError,
    TransportInputError,
    UnknownTopic,
)
from fraudstream.stream.transport.kafka.consumer import KafkaConsumer
from fraudstream.stream.transport.kafka.errors import (
    FatalLatch,
    classify,
    describe,
    kafka_error,
    librdkafka_log,
)
from fraudstream.stream.transport.kafka.producer import KafkaProducer
from fraudstream.stream.transport.kafka.transactions import KafkaTransactionalProducer

__all__ = ["ConfigValue", "KafkaTransport"]

ConfigValue = str | int | float | bool
_CLIENT_PREFIXES: Final = ("producer.", "consumer.", "admin.")


class KafkaTransport(Transport):
    """A Kafka cluster reached at ``bootstrap`` (``host:port[,host:port...]``).

    ``timeout``: seconds for admin and metadata requests, commits and transaction steps.
    ``replication_factor``: for new topics; -1 uses the broker's ``default.replication.factor``.
    """

    def __init__(
        self,
        bootstrap: str,
        config: Mapping[str, ConfigValue] | None = None,
        *,
        timeout: float = 30.0,
        replication_factor: int = -1,
    ) -> None:
        if not bootstrap or not isinstance(bootstrap, str):
            raise TransportInputError("bootstrap must be a non-empty 'host:port,...' string")
        self.bootstrap = bootstrap
        self.timeout = float(timeout)
        self.replication_factor = replication_factor
        self._common: dict[str, ConfigValue] = {}
        self._per_client: dict[str, dict[str, ConfigValue]] = {p: {} for p in _CLIENT_PREFIXES}
        for key, value in (config or {}).items():
            if key == "bootstrap.servers":
                raise TransportInputError("give bootstrap.servers as the bootstrap argument")
            prefix = next((p for p in _CLIENT_PREFIXES if key.startswith(p)), None)
            if prefix is None:
                self._common[key] = value
            else:
                self._per_client[prefix][key[len(prefix) :]] = value
        self._lock = threading.Lock()
        self._admin_client: AdminClient | None = None
        self._meta_consumer: KConsumer | None = None
        self._partition_cache: dict[str, int] = {}
        self._closed = False

    # -- configuration

    def client_config(
        self,
        kind: str,
        defaults: Mapping[str, ConfigValue] | None = None,
        *,
        error_cb: Callable[[KafkaError], None] | None = None,
    ) -> dict[str, Any]:
        """The librdkafka config for a ``producer``, ``consumer`` or ``admin`` client;
        ``error_cb`` receives the client's background errors (default: logged)."""
        conf: dict[str, Any] = {"bootstrap.servers": self.bootstrap}
        conf.update(defaults or {})
        conf.update(self._common)
        conf.update(self._per_client[kind + "."])
        conf["logger"] = librdkafka_log
        conf["error_cb"] = error_cb or FatalLatch()
        return conf

    def redacted(self) -> str:
        from fraudstream.stream.transport.url import render_kafka_url

        config = dict(self._common)
        for prefix, values in self._per_client.items():
            config.update({prefix + k: v for k, v in values.items()})
        return render_kafka_url(self.bootstrap, {k: str(v) for k, v in config.items()})

    def scrub(self, text: str) -> str:
        """``text`` with the value of every secret config property masked."""
        from fraudstream.stream.transport.url import MASK, is_secret_key

        values = [self._common, *self._per_client.values()]
        for config in values:
            for key, value in config.items():
                if is_secret_key(key) and str(value):
                    text = text.replace(str(value), MASK)
        return text

    def config_error(self, kind: str, exc: KafkaException) -> TransportInputError:
        return TransportInputError(f"bad {kind} configuration: {self.scrub(describe(exc))}")

    def _check_open(self) -> None:
        if self._closed:
            raise TransportClosed("the transport is closed")

    def _admin(self) -> AdminClient:
        with self._lock:
            self._check_open()
            if self._admin_client is None:
                try:
                    self._admin_client = AdminClient(self.client_config("admin"))
                except KafkaException as exc:
                    raise self.config_error("admin client", exc) from None
            return self._admin_client

    def _metadata_consumer(self) -> KConsumer:
        """A consumer that never joins a group: for watermarks."""
        with self._lock:
            self._check_open()
            if self._meta_consumer is None:
                conf = self.client_config(
                    "consumer", {"group.id": f"fraudstream-metadata-{uuid.uuid4().hex}"}
                )
                try:
                    self._meta_consumer = KConsumer(conf | {"enable.auto.commit": False})
                except KafkaException as exc:
                    raise self.config_error("consumer", exc) from None
            return self._meta_consumer

    # -- topics

    def _list_topics(self) -> dict[str, int]:
        try:
            metadata = self._admin().list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise TransportError(f"cannot list topics on Kafka: {describe(exc)}") from exc
        return {
            name: len(topic.partitions)
            for name, topic in metadata.topics.items()
            if topic.error is None
        }

    def create_topics(self, names: Iterable[str], partitions: int = 1) -> None:
        validate_partitions(partitions)
        wanted = [validate_topic_name(n) for n in names]
        if not wanted:
            return
        new = [NewTopic(n, partitions, self.replication_factor) for n in wanted]
        futures = self._admin().create_topics(new, request_timeout=self.timeout)
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                err = kafka_error(exc)
                if err is None or err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise TransportError(f"cannot create topic {name!r}: {describe(exc)}") from exc
        # Wait until the metadata shows them, so clients created next find them.
        deadline = time.monotonic() + self.timeout
        missing = set(wanted)
        while missing:
            missing -= self._list_topics().keys()
            if missing and time.monotonic() > deadline:
                raise TransportError(f"topics {sorted(missing)} did not appear in the metadata")
            if missing:
                time.sleep(0.05)

    def partitions_for(self, topic: str) -> int:
        cached = self._partition_cache.get(topic)
        if cached is not None:
            return cached
        count = self._list_topics().get(topic)
        if count is None:
            raise UnknownTopic(f"topic {topic!r} does not exist on Kafka")
        self._partition_cache[topic] = count
        return count

    def watermarks(self, topic: str) -> dict[int, tuple[int, int]]:
        """Partition -> (low, high) watermark."""
        consumer = self._metadata_consumer()
        out: dict[int, tuple[int, int]] = {}
        for part in range(self.partitions_for(topic)):
            try:
                low, high = consumer.get_watermark_offsets(
                    KTopicPartition(topic, part), timeout=self.timeout, cached=False
                )
            except KafkaException as exc:
                raise TransportError(
                    f"cannot read offsets of {topic}[{part}]: {describe(exc)}"
                ) from exc
            out[part] = (low, high)
        return out

    def end_offsets(self, topic: str) -> dict[int, int]:
        return {part: high for part, (_, high) in self.watermarks(topic).items()}

    def committed_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        # A client that never subscribes only fetches the group's offsets: it does not join.
        request = [KTopicPartition(topic, p) for p in range(self.partitions_for(topic))]
        conf = self.client_config("consumer", {"group.id": group_id})
        try:
            client = KConsumer(conf | {"enable.auto.commit": False})
        except KafkaException as exc:
            raise self.config_error("consumer", exc) from None
        try:
            result = client.committed(request, timeout=self.timeout)
        except KafkaException as exc:
            raise classify(f"cannot read the offsets of group {group_id!r}", exc) from exc
        finally:
            client.close()
        return {tp.partition: tp.offset for tp in result if tp.offset >= 0}

    # -- clients

    def producer(self) -> KafkaProducer:
        self._check_open()
        return KafkaProducer(self)

    def transactional_producer(self, transactional_id: str) -> KafkaTransactionalProducer:
        self._check_open()
        return KafkaTransactionalProducer(self, validate_transactional_id(transactional_id))

    def consumer(
        self, group_id: str, topics: Iterable[str], *, from_beginning: bool = True
    ) -> KafkaConsumer:
        self._check_open()
        names = validate_subscription(group_id, topics)
        for name in names:
            self.partitions_for(name)
        return KafkaConsumer(self, group_id, names, from_beginning=from_beginning)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._meta_consumer is not None:
                self._meta_consumer.close()
            self._admin_client = None
