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
message of ours contains a config value.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from confluent_kafka import Consumer as _KConsumer
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Message as _KMessage
from confluent_kafka import Producer as _KProducer
from confluent_kafka import TopicPartition as _KTopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from fraudstream.stream.transport.base import (
    Consumer,
    HeadersLike,
    Lag,
    Message,
    OffsetsLike,
    Producer,
    TopicPartition,
    TransactionalProducer,
    Transport,
    normalize_headers,
    normalize_offsets,
    to_bytes,
    validate_partitions,
    validate_topic_name,
)
from fraudstream.stream.transport.errors import (
    CommitFailed,
    DeliveryFailed,
    ProducerFenced,
    TransactionAborted,
    TransportClosed,
    TransportError,
    TransportInputError,
    UnknownTopic,
)

__all__ = ["KafkaTransport"]

log = logging.getLogger(__name__)
librdkafka_log = logging.getLogger(__name__ + ".librdkafka")

ConfigValue = str | int | float | bool
_CLIENT_PREFIXES: Final = ("producer.", "consumer.", "admin.")
_REBALANCE_CODES: Final = {
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError._ASSIGNMENT_LOST,
    KafkaError.FENCED_INSTANCE_ID,
}
_FENCED_CODES: Final = {
    KafkaError._FENCED,
    KafkaError.PRODUCER_FENCED,
    KafkaError.INVALID_PRODUCER_EPOCH,
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}
_T = TypeVar("_T")


def _kafka_error(exc: KafkaException) -> KafkaError | None:
    arg = exc.args[0] if exc.args else None
    return arg if isinstance(arg, KafkaError) else None


def _describe(exc: BaseException) -> str:
    err = _kafka_error(exc) if isinstance(exc, KafkaException) else None
    return f"{err.name()}: {err.str()}" if err is not None else str(exc)


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
        self._meta_consumer: _KConsumer | None = None
        self._partition_cache: dict[str, int] = {}
        self._closed = False

    # -- configuration

    def client_config(
        self, kind: str, defaults: Mapping[str, ConfigValue] | None = None
    ) -> dict[str, Any]:
        """The librdkafka config for a ``producer``, ``consumer`` or ``admin`` client."""
        conf: dict[str, Any] = {"bootstrap.servers": self.bootstrap}
        conf.update(defaults or {})
        conf.update(self._common)
        conf.update(self._per_client[kind + "."])
        conf["logger"] = librdkafka_log
        conf["error_cb"] = _log_client_error
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
        return TransportInputError(f"bad {kind} configuration: {self.scrub(_describe(exc))}")

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

    def _metadata_consumer(self) -> _KConsumer:
        """A consumer that never joins a group: for watermarks."""
        with self._lock:
            self._check_open()
            if self._meta_consumer is None:
                conf = self.client_config(
                    "consumer", {"group.id": f"fraudstream-metadata-{uuid.uuid4().hex}"}
                )
                try:
                    self._meta_consumer = _KConsumer(conf | {"enable.auto.commit": False})
                except KafkaException as exc:
                    raise self.config_error("consumer", exc) from None
            return self._meta_consumer

    # -- topics

    def _list_topics(self) -> dict[str, int]:
        try:
            metadata = self._admin().list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise TransportError(f"cannot list topics on Kafka: {_describe(exc)}") from exc
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
                err = _kafka_error(exc)
                if err is None or err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise TransportError(f"cannot create topic {name!r}: {_describe(exc)}") from exc
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
                    _KTopicPartition(topic, part), timeout=self.timeout, cached=False
                )
            except KafkaException as exc:
                raise TransportError(
                    f"cannot read offsets of {topic}[{part}]: {_describe(exc)}"
                ) from exc
            out[part] = (low, high)
        return out

    def end_offsets(self, topic: str) -> dict[int, int]:
        return {part: high for part, (_, high) in self.watermarks(topic).items()}

    # -- clients

    def producer(self) -> KafkaProducer:
        self._check_open()
        return KafkaProducer(self)

    def transactional_producer(self, transactional_id: str) -> KafkaTransactionalProducer:
        self._check_open()
        if not transactional_id or not isinstance(transactional_id, str):
            raise TransportInputError("transactional_id must be a non-empty string")
        return KafkaTransactionalProducer(self, transactional_id)

    def consumer(
        self, group_id: str, topics: Iterable[str], *, from_beginning: bool = True
    ) -> KafkaConsumer:
        self._check_open()
        if not group_id or not isinstance(group_id, str):
            raise TransportInputError("group_id must be a non-empty string")
        names = tuple(dict.fromkeys(topics))
        if not names:
            raise TransportInputError("a consumer needs at least one topic")
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


def _log_client_error(err: KafkaError) -> None:
    if err.fatal():
        librdkafka_log.error("fatal Kafka client error %s: %s", err.name(), err.str())
    else:
        librdkafka_log.warning("Kafka client error %s: %s", err.name(), err.str())


def _headers_for_kafka(headers: HeadersLike) -> list[tuple[str, str | bytes | None]] | None:
    normalized = normalize_headers(headers)
    return [(name, value) for name, value in normalized] if normalized else None


def _to_message(msg: _KMessage) -> Message:
    topic = msg.topic()
    partition = msg.partition()
    offset = msg.offset()
    assert topic is not None
    assert partition is not None
    assert offset is not None
    raw_headers = msg.headers() or []
    if isinstance(raw_headers, dict):
        raw_headers = list(raw_headers.items())
    return Message(
        topic,
        partition,
        offset,
        msg.key(),
        msg.value() or b"",
        tuple((name, to_bytes(value or b"", "header")) for name, value in raw_headers),
        msg.timestamp()[1],
    )


# --------------------------------------------------------------------------- producers


class _ProducerBase:
    def __init__(self, transport: KafkaTransport, extra: Mapping[str, ConfigValue]) -> None:
        self._transport = transport
        conf = transport.client_config(
            "producer",
            {"enable.idempotence": True, "partitioner": "murmur2_random", "linger.ms": 5},
        )
        conf.update(extra)
        try:
            self._producer = _KProducer(conf)
        except KafkaException as exc:
            raise transport.config_error("producer", exc) from None
        self._failed = 0
        self._first_failure: str | None = None
        self._closed = False

    def _on_delivery(self, err: KafkaError | None, msg: _KMessage) -> None:
        if err is not None:
            self._failed += 1
            if self._first_failure is None:
                self._first_failure = f"{msg.topic()}: {err.name()}: {err.str()}"

    def _produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None,
        headers: HeadersLike,
    ) -> None:
        if self._closed:
            raise TransportClosed("the producer is closed")
        raw_value = to_bytes(value, "value")
        raw_key = None if key is None else to_bytes(key, "key")
        kheaders = _headers_for_kafka(headers)
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
                raise TransportError(f"produce to {topic!r} failed: {_describe(exc)}") from exc
        self._producer.poll(0)

    def _raise_failures(self) -> None:
        if self._failed:
            failed, first = self._failed, self._first_failure
            self._failed, self._first_failure = 0, None
            raise DeliveryFailed(f"{failed} message(s) not delivered; first: {first}", failed)


class KafkaProducer(_ProducerBase, Producer):
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


class KafkaTransactionalProducer(_ProducerBase, TransactionalProducer):
    def __init__(self, transport: KafkaTransport, transactional_id: str) -> None:
        super().__init__(transport, {"transactional.id": transactional_id})
        self.transactional_id = transactional_id
        self._open = False
        self._fenced = False
        self._broken: str | None = None  # why this producer cannot be used any more
        try:
            self._call(lambda: self._producer.init_transactions(transport.timeout), "init")
        except KafkaException as exc:
            raise TransportError(f"init_transactions failed: {_describe(exc)}") from exc

    @property
    def in_transaction(self) -> bool:
        return self._open

    def _call(self, fn: Callable[[], _T], step: str) -> _T:
        """Run a transaction step, retrying retriable errors until the timeout."""
        deadline = time.monotonic() + self._transport.timeout
        while True:
            try:
                return fn()
            except KafkaException as exc:
                err = _kafka_error(exc)
                if err is None:
                    raise TransportError(f"transaction {step} failed: {exc}") from exc
                if err.code() in _FENCED_CODES:
                    self._fenced = True
                    self._open = False
                    raise ProducerFenced(
                        f"transactional id {self.transactional_id!r}: {step} failed:"
                        f" {_describe(exc)}"
                    ) from exc
                if err.fatal():
                    self._broken = f"fatal error in {step}: {_describe(exc)}"
                    self._open = False
                    raise TransportError(
                        f"transactional producer failed fatally ({step}): {_describe(exc)}"
                    ) from exc
                if err.retriable() and time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise

    def _check(self, *, want_open: bool) -> None:
        if self._closed:
            raise TransportClosed("the transactional producer is closed")
        if self._fenced:
            raise ProducerFenced(f"transactional id {self.transactional_id!r} was fenced")
        if self._broken is not None:
            raise TransportError(f"transactional producer unusable: {self._broken}")
        if want_open and not self._open:
            raise TransportError("no transaction is open: call begin() first")
        if not want_open and self._open:
            raise TransportError("a transaction is already open")

    def begin(self) -> None:
        self._check(want_open=False)
        try:
            self._call(self._producer.begin_transaction, "begin")
        except KafkaException as exc:
            raise TransportError(f"begin transaction failed: {_describe(exc)}") from exc
        self._failed, self._first_failure = 0, None
        self._open = True

    def produce(
        self,
        topic: str,
        value: bytes | str,
        key: bytes | str | None = None,
        headers: HeadersLike = None,
    ) -> None:
        self._check(want_open=True)
        self._produce(topic, value, key, headers)

    def _abort_after(self, exc: BaseException, step: str) -> TransportError:
        """Abort after a failed step; the error to raise says whether that worked."""
        try:
            self.abort()
        except TransportError as abort_exc:
            self._broken = f"{step} and abort failed; transaction outcome unknown"
            return TransportError(
                f"transaction {step} failed ({_describe(exc)}) and the abort failed too"
                f" ({abort_exc}): the outcome is unknown; close this producer and start a new"
                " one with the same transactional id (that settles the transaction)"
            )
        return TransactionAborted(f"transaction aborted ({step} failed: {_describe(exc)})")

    def _finish(self, consumer: Consumer | None, offsets: OffsetsLike | None) -> None:
        self._check(want_open=True)
        timeout = self._transport.timeout
        if consumer is not None:
            if not isinstance(consumer, KafkaConsumer):
                raise TransportInputError("commit_with_offsets needs a KafkaConsumer")
            wanted = normalize_offsets(offsets if offsets is not None else {})
            try:
                consumer._check_assigned(wanted)
            except CommitFailed as exc:
                raise self._abort_after(exc, "offset commit") from exc
            if wanted:
                positions = [
                    _KTopicPartition(tp.topic, tp.partition, o) for tp, o in wanted.items()
                ]
                metadata = consumer._consumer.consumer_group_metadata()
                try:
                    self._call(
                        lambda: self._producer.send_offsets_to_transaction(
                            positions, metadata, timeout
                        ),
                        "send offsets",
                    )
                except KafkaException as exc:
                    raise self._abort_after(exc, "send offsets") from exc
        try:
            self._call(lambda: self._producer.commit_transaction(timeout), "commit")
        except KafkaException as exc:
            raise self._abort_after(exc, "commit") from exc
        self._open = False
        self._failed, self._first_failure = 0, None

    def commit_with_offsets(self, consumer: Consumer, offsets: OffsetsLike) -> None:
        self._finish(consumer, offsets)

    def commit(self) -> None:
        self._finish(None, None)

    def abort(self) -> None:
        if self._closed:
            raise TransportClosed("the transactional producer is closed")
        if not self._open:
            return
        try:
            self._call(lambda: self._producer.abort_transaction(self._transport.timeout), "abort")
        except KafkaException as exc:
            raise TransportError(f"abort failed: {_describe(exc)}") from exc
        finally:
            self._open = False
            self._failed, self._first_failure = 0, None

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self._open and not self._fenced and self._broken is None:
                self.abort()
        finally:
            self._closed = True
            with contextlib.suppress(KafkaException):  # a fenced producer raises here
                self._producer.flush(0)


# --------------------------------------------------------------------------- consumer


class KafkaConsumer(Consumer):
    def __init__(
        self,
        transport: KafkaTransport,
        group_id: str,
        topics: tuple[str, ...],
        *,
        from_beginning: bool,
    ) -> None:
        self.group_id = group_id
        self.topics = topics
        self._transport = transport
        self._from_beginning = from_beginning
        conf = transport.client_config(
            "consumer",
            {
                "auto.offset.reset": "earliest" if from_beginning else "latest",
                "isolation.level": "read_committed",
            },
        )
        conf.update({"group.id": group_id, "enable.auto.commit": False})
        try:
            self._consumer = _KConsumer(conf)
            self._consumer.subscribe(list(topics))
        except KafkaException as exc:
            raise transport.config_error("consumer", exc) from None
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise TransportClosed("the consumer is closed")

    def poll(self, max_messages: int = 500, timeout: float = 1.0) -> list[Message]:
        self._check_open()
        if max_messages < 1:
            raise TransportInputError("max_messages must be >= 1")
        # librdkafka's consume() waits until it has ``num_messages`` or the timeout passed; the
        # contract is to wait only for the first message. So: take what is there; if nothing
        # is, wait for one message, then take whatever else is there by then.
        consume = self._consumer.consume
        try:
            raw = consume(num_messages=max_messages, timeout=0)
            if not raw and timeout > 0:
                raw = consume(num_messages=1, timeout=timeout)
                if raw and max_messages > 1:
                    raw += consume(num_messages=max_messages - 1, timeout=0)
        except KafkaException as exc:
            raise TransportError(f"poll failed: {_describe(exc)}") from exc
        out: list[Message] = []
        for msg in raw:
            err = msg.error()
            if err is None:
                out.append(_to_message(msg))
            elif err.code() == KafkaError._PARTITION_EOF:
                continue
            elif err.fatal():
                raise TransportError(f"consumer failed: {err.name()}: {err.str()}")
            else:
                log.warning("consumer %s: %s: %s", self.group_id, err.name(), err.str())
        return out

    def _all_partitions(self) -> list[TopicPartition]:
        return [
            TopicPartition(topic, part)
            for topic in self.topics
            for part in range(self._transport.partitions_for(topic))
        ]

    def _check_assigned(self, offsets: Mapping[TopicPartition, int]) -> None:
        assigned = self.assignment()
        for tp in offsets:
            if tp not in assigned:
                raise CommitFailed(
                    f"partition {tp.topic}[{tp.partition}] is not assigned to this consumer of"
                    f" group {self.group_id!r} any more"
                )

    def commit(self, offsets: OffsetsLike | None = None) -> None:
        self._check_open()
        wanted = self.position() if offsets is None else normalize_offsets(offsets)
        if not wanted:
            return
        self._check_assigned(wanted)
        request = [_KTopicPartition(tp.topic, tp.partition, off) for tp, off in wanted.items()]
        try:
            result = self._consumer.commit(offsets=request, asynchronous=False)
        except KafkaException as exc:
            err = _kafka_error(exc)
            if err is not None and err.code() in _REBALANCE_CODES:
                raise CommitFailed(f"commit failed during a rebalance: {_describe(exc)}") from exc
            raise TransportError(f"commit failed: {_describe(exc)}") from exc
        for tp in result or []:
            if tp.error is not None:
                raise CommitFailed(
                    f"commit of {tp.topic}[{tp.partition}] failed: {tp.error.name()}"
                )

    def seek(self, partition: TopicPartition | tuple[str, int], offset: int) -> None:
        self._check_open()
        tp = TopicPartition(*partition)
        if tp not in self.assignment():
            raise TransportInputError(
                f"{tp.topic}[{tp.partition}] is not assigned to this consumer"
            )
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise TransportInputError(f"offset must be an int >= 0, got {offset!r}")
        deadline = time.monotonic() + self._transport.timeout
        while True:
            try:
                self._consumer.seek(_KTopicPartition(tp.topic, tp.partition, offset))
                return
            except KafkaException as exc:
                # Right after assignment the fetcher may not be ready yet (_STATE).
                err = _kafka_error(exc)
                if err is None or err.code() != KafkaError._STATE or time.monotonic() > deadline:
                    raise TransportError(f"seek failed: {_describe(exc)}") from exc
                self._consumer.consume(num_messages=1, timeout=0)  # serve the assignment
                time.sleep(0.01)

    def assignment(self) -> frozenset[TopicPartition]:
        self._check_open()
        return frozenset(
            TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()
        )

    def position(self) -> dict[TopicPartition, int]:
        self._check_open()
        assigned = self._consumer.assignment()
        if not assigned:
            return {}
        out = {
            TopicPartition(tp.topic, tp.partition): tp.offset
            for tp in self._consumer.position(assigned)
            if tp.offset >= 0
        }
        if len(out) < len(assigned):
            committed = self.committed()
            for tp in assigned:
                key = TopicPartition(tp.topic, tp.partition)
                if key not in out and key in committed:
                    out[key] = committed[key]
        return out

    def committed(self) -> dict[TopicPartition, int]:
        self._check_open()
        request = [_KTopicPartition(tp.topic, tp.partition) for tp in self._all_partitions()]
        try:
            result = self._consumer.committed(request, timeout=self._transport.timeout)
        except KafkaException as exc:
            raise TransportError(f"cannot read committed offsets: {_describe(exc)}") from exc
        return {
            TopicPartition(tp.topic, tp.partition): tp.offset for tp in result if tp.offset >= 0
        }

    def lag(self) -> Lag:
        committed = self.committed()
        per: dict[TopicPartition, int] = {}
        for topic in self.topics:
            for part, (low, high) in self._transport.watermarks(topic).items():
                tp = TopicPartition(topic, part)
                base = committed.get(tp, low if self._from_beginning else high)
                per[tp] = max(high - base, 0)
        return Lag(sum(per.values()), per)

    def close(self) -> None:
        """Leave the group (the other members get its partitions after a rebalance)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._consumer.close()
        except KafkaException as exc:  # pragma: no cover - depends on the broker
            log.warning("consumer %s close: %s", self.group_id, _describe(exc))
