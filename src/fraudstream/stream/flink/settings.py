"""What the Flink job needs to know, as plain data (JSON to the job process), and the Kafka
client properties it derives from the processor's ``kafka://`` URL.

The Python processor configures librdkafka; Flink's Kafka connector runs the Java client, whose
property names differ in places. :func:`java_kafka_properties` translates the URL's query
(security, SASL, TLS trust, the common tuning keys) so both run from the same
``FRAUDSTREAM_BROKER``; a key with no Java equivalent is reported, never silently guessed, and
``kafka_properties`` adds Java-only properties (e.g. a PEM key store).

Importing this module does not import PyFlink.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal

from fraudstream.errors import InvalidInput
from fraudstream.stream.processor import DEFAULT_DETECTOR_ID
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport.url import is_secret_key, parse_transport_url

__all__ = [
    "DEFAULT_FLINK_GROUP",
    "FlinkSettings",
    "JavaKafkaConfig",
    "WorkerSettings",
    "java_kafka_properties",
]

DEFAULT_FLINK_GROUP: Final = "fraudstream-flink"

Start = Literal["group", "earliest", "latest"]
ExecutionMode = Literal["process", "thread"]

#: librdkafka keys that mean the same in the Java client under the same name.
_SAME: Final = frozenset(
    {
        "security.protocol",
        "sasl.mechanism",
        "sasl.kerberos.service.name",
        "client.id",
        "client.rack",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        "fetch.min.bytes",
        "fetch.max.bytes",
        "max.partition.fetch.bytes",
        "isolation.level",
        "request.timeout.ms",
        "socket.connection.setup.timeout.ms",
        "reconnect.backoff.ms",
        "reconnect.backoff.max.ms",
        "retry.backoff.ms",
        "metadata.max.age.ms",
        "linger.ms",
        "batch.size",
        "acks",
        "compression.type",
        "enable.idempotence",
        "transaction.timeout.ms",
        "delivery.timeout.ms",
        "max.in.flight.requests.per.connection",
        "message.max.bytes",
        "group.instance.id",
    }
)
#: librdkafka name -> Java name.
_RENAMED: Final = {
    "sasl.mechanisms": "sasl.mechanism",
    "fetch.wait.max.ms": "fetch.max.wait.ms",
    "compression.codec": "compression.type",
    "queue.buffering.max.ms": "linger.ms",
    "request.required.acks": "acks",
    "ssl.ca.location": "ssl.truststore.location",
}
#: librdkafka keys the job sets itself or that only make sense to librdkafka.
_IGNORED: Final = frozenset(
    {"enable.auto.commit", "auto.offset.reset", "partitioner", "log_level", "debug", "group.id"}
)
_LOGIN_MODULES: Final = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


@dataclass(frozen=True)
class JavaKafkaConfig:
    """Java client properties for every client, for the source's consumer only and for the
    sinks' producers only; ``unmapped`` names URL keys that have no Java equivalent."""

    bootstrap: str
    common: dict[str, str] = field(default_factory=dict)
    consumer: dict[str, str] = field(default_factory=dict)
    producer: dict[str, str] = field(default_factory=dict)
    unmapped: tuple[str, ...] = ()


def _jaas_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _translate(key: str, value: str, out: dict[str, str], unmapped: list[str]) -> None:
    if key in _IGNORED:
        return
    if key == "ssl.endpoint.identification.algorithm":
        out[key] = "" if value.lower() == "none" else value
    elif key == "ssl.ca.location":
        out["ssl.truststore.location"] = value
        out["ssl.truststore.type"] = "PEM"
    elif key in _RENAMED:
        out[_RENAMED[key]] = value
    elif key in _SAME:
        out[key] = value
    else:
        unmapped.append(key)


def java_kafka_properties(
    broker_url: str, extra: Mapping[str, str] | None = None
) -> JavaKafkaConfig:
    """The Java Kafka client properties equivalent to the processor's ``kafka://`` URL.

    ``sasl.username``/``sasl.password`` become a ``sasl.jaas.config`` for PLAIN or SCRAM;
    ``ssl.ca.location`` a PEM trust store. ``extra`` (Java names, ``consumer.``/``producer.``
    prefixes allowed) is applied last, for what librdkafka has no name for.
    """
    parsed = parse_transport_url(broker_url)
    if parsed.scheme != "kafka" or parsed.bootstrap is None:
        raise InvalidInput(
            "the Flink job reads and writes Kafka: give a kafka://host:port URL"
            " (the embedded log is for the Python processor only)",
            [("broker", "not a kafka:// URL")],
        )
    parts: dict[str, dict[str, str]] = {"": {}, "consumer.": {}, "producer.": {}}
    unmapped: list[str] = []
    username = password = None
    for key, value in parsed.options.items():
        prefix = next((p for p in ("consumer.", "producer.", "admin.") if key.startswith(p)), "")
        name = key[len(prefix) :]
        if prefix == "admin.":
            continue
        if name == "sasl.username":
            username = value
        elif name == "sasl.password":
            password = value
        else:
            _translate(name, value, parts[prefix], unmapped)
    common = parts[""]
    if username is not None:
        mechanism = common.get("sasl.mechanism", "PLAIN").upper()
        module = _LOGIN_MODULES.get(mechanism)
        if module is None:
            raise InvalidInput(
                f"sasl.username/password with mechanism {mechanism}: give the Java client's"
                " sasl.jaas.config with --kafka-property instead",
                [("sasl.mechanism", "no JAAS mapping")],
            )
        common["sasl.jaas.config"] = (
            f"{module} required username={_jaas_quote(username)}"
            f" password={_jaas_quote(password or '')};"
        )
    for key, value in (extra or {}).items():
        if key.startswith("consumer."):
            parts["consumer."][key[len("consumer.") :]] = value
        elif key.startswith("producer."):
            parts["producer."][key[len("producer.") :]] = value
        else:
            common[key] = value
    return JavaKafkaConfig(
        bootstrap=parsed.bootstrap,
        common=common,
        consumer=parts["consumer."],
        producer=parts["producer."],
        unmapped=tuple(unmapped),
    )


@dataclass(frozen=True)
class WorkerSettings:
    """What the Python functions of the job need (shipped inside the job graph: no secrets)."""

    registry: str
    detector_id: str = DEFAULT_DETECTOR_ID
    topics: Topics = field(default_factory=Topics)
    refresh_seconds: float = 1.0
    dlq_max_bytes: int = 512 * 1024
    #: Store events and predictions in this EventStore file (SQLite: one machine only).
    events_db: str | None = None
    #: Add ``fd.state_counts`` (each state key's event count before the event) to decisions.
    debug_state: bool = False


@dataclass(frozen=True)
class FlinkSettings:
    """One Flink job run: Kafka, topics, the registry, parallelism and delivery mode.

    ``bounded`` stops the job at given offsets (``{partition: end offset}``) or at the end
    offsets seen at start (``"latest"``); ``None`` runs until cancelled. ``start`` is where a
    job without checkpointed offsets begins: the group's committed offsets (else the
    earliest), the earliest or the latest.
    """

    broker: str
    worker: WorkerSettings
    group_id: str = DEFAULT_FLINK_GROUP
    parallelism: int = 1
    exactly_once: bool = False
    checkpoint_interval_ms: int = 10_000
    checkpoint_dir: str | None = None
    restore_from: str | None = None
    start: Start = "group"
    bounded: dict[int, int] | Literal["latest"] | None = None
    #: PyFlink's ``python.execution-mode``: ``process`` (Python workers beside the JVM, talking
    #: over gRPC) or ``thread`` (Python embedded in the JVM: less overhead per record, one
    #: interpreter per TaskManager). See docs/flink.md for what each measured here.
    execution_mode: ExecutionMode = "process"
    #: Longest a Python operator holds records before processing them (latency vs. overhead).
    bundle_time_ms: int = 10
    bundle_size: int = 1000
    #: Longest a network buffer waits to fill before it is sent downstream.
    buffer_timeout_ms: int = 5
    job_name: str = "fraudstream"
    #: The Python the workers run (``python.executable``); ``None`` leaves it to Flink (a
    #: cluster's ``-pyexec`` / ``-pyarch``). :class:`~fraudstream.stream.flink.launcher.LocalJob`
    #: sets its own.
    python_executable: str | None = None
    #: Java Kafka client properties beyond what the URL translates to.
    kafka_properties: dict[str, str] = field(default_factory=dict)
    #: Any Flink configuration (``state.backend.type: rocksdb``, restart strategy...).
    flink_config: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if self.parallelism < 1:
            problems.append(("parallelism", "must be >= 1"))
        if self.checkpoint_interval_ms < 10:
            problems.append(("checkpoint_interval_ms", "must be >= 10"))
        if self.bundle_time_ms < 1 or self.bundle_size < 1 or self.buffer_timeout_ms < 0:
            problems.append(("bundle", "bundle time/size must be >= 1, buffer timeout >= 0"))
        if self.start not in ("group", "earliest", "latest"):
            problems.append(("start", "group, earliest or latest"))
        if self.execution_mode not in ("process", "thread"):
            problems.append(("execution_mode", "process or thread"))
        if problems:
            raise InvalidInput(
                "invalid Flink settings: " + "; ".join(f"{a}: {b}" for a, b in problems), problems
            )
        java_kafka_properties(self.broker, self.kafka_properties)  # validates the URL

    @property
    def transactional_id_prefix(self) -> str:
        return f"{self.group_id}-{self.job_name}"

    def to_json(self) -> str:
        data = asdict(self)
        data["worker"]["topics"] = asdict(self.worker.topics)
        if isinstance(self.bounded, dict):
            data["bounded"] = {str(k): v for k, v in self.bounded.items()}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> FlinkSettings:
        data: dict[str, Any] = json.loads(text)
        worker = dict(data.pop("worker"))
        worker["topics"] = Topics(**worker["topics"])
        bounded = data.get("bounded")
        if isinstance(bounded, dict):
            data["bounded"] = {int(k): int(v) for k, v in bounded.items()}
        known = {f.name for f in fields(cls)}
        return cls(worker=WorkerSettings(**worker), **{k: v for k, v in data.items() if k in known})

    def write(self, path: Path) -> None:
        """Write as JSON readable by the owner only (the broker URL may hold a password)."""
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(self.to_json())

    def redacted_kafka(self) -> dict[str, str]:
        """The Java properties with secrets masked (for logs)."""
        config = java_kafka_properties(self.broker, self.kafka_properties)
        merged = {**config.common, **config.consumer, **config.producer}
        return {k: ("***" if is_secret_key(k) else v) for k, v in merged.items()}
