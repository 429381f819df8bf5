"""The Flink job's configuration and Kafka tables (SQL DDL), built without PyFlink so they are
testable.

Flink's Kafka *table* connector is used at both ends because only it hands the record key,
headers, partition, offset and timestamp to Python and writes headers back: the processor's
dead-letter format needs all of them. ``raw`` formats keep the bytes untouched (a malformed
record must reach the dead-letter topic as it came).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fraudstream.stream.flink.settings import FlinkSettings, java_kafka_properties

__all__ = ["SOURCE_QUERY", "SOURCE_TABLE", "flink_options", "sink_ddl", "source_ddl"]

SOURCE_TABLE: Final = "fs_transactions"
SOURCE_QUERY: Final = f"SELECT k, v, headers, topic, `partition`, `offset`, ts FROM {SOURCE_TABLE}"


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _with(options: dict[str, str]) -> str:
    return ",\n  ".join(f"{_sql(k)} = {_sql(v)}" for k, v in options.items())


def _kafka_options(settings: FlinkSettings, client: str) -> dict[str, str]:
    config = java_kafka_properties(settings.broker, settings.kafka_properties)
    props = {**config.common, **(config.consumer if client == "consumer" else config.producer)}
    options = {"connector": "kafka", "properties.bootstrap.servers": config.bootstrap}
    options.update({f"properties.{k}": v for k, v in props.items()})
    options.update(
        {
            "key.format": "raw",
            "key.fields": "k",
            "value.format": "raw",
            "value.fields-include": "EXCEPT_KEY",
        }
    )
    return options


def source_ddl(settings: FlinkSettings, table: str = SOURCE_TABLE) -> str:
    """The ``transactions`` source: raw key and value plus the record's metadata."""
    options = _kafka_options(settings, "consumer")
    options["topic"] = settings.worker.topics.transactions
    options["properties.group.id"] = settings.group_id
    options.setdefault("properties.isolation.level", "read_committed")
    options["scan.startup.mode"] = {
        "group": "group-offsets",
        "earliest": "earliest-offset",
        "latest": "latest-offset",
    }[settings.start]
    if settings.start == "group":
        options["properties.auto.offset.reset"] = "earliest"
    if settings.bounded == "latest":
        options["scan.bounded.mode"] = "latest-offset"
    elif isinstance(settings.bounded, dict):
        options["scan.bounded.mode"] = "specific-offsets"
        options["scan.bounded.specific-offsets"] = ";".join(
            f"partition:{p},offset:{o}" for p, o in sorted(settings.bounded.items())
        )
    return f"""CREATE TEMPORARY TABLE {table} (
  `k` BYTES,
  `v` BYTES,
  `headers` MAP<STRING, BYTES> METADATA,
  `topic` STRING METADATA VIRTUAL,
  `partition` INT METADATA VIRTUAL,
  `offset` BIGINT METADATA VIRTUAL,
  `ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL
) WITH (
  {_with(options)}
)"""


def sink_ddl(settings: FlinkSettings, table: str, topic: str, *, headers: bool) -> str:
    """A sink of raw key/value records (with headers: the dead-letter topic)."""
    options = _kafka_options(settings, "producer")
    options["topic"] = topic
    if settings.exactly_once:
        options["sink.delivery-guarantee"] = "exactly-once"
        options["sink.transactional-id-prefix"] = f"{settings.transactional_id_prefix}-{table}"
        # Flink's default (1 h) is above the brokers' default transaction.max.timeout.ms.
        options.setdefault("properties.transaction.timeout.ms", "900000")
    else:
        options["sink.delivery-guarantee"] = "at-least-once"
    columns = "`k` BYTES,\n  `v` BYTES" + (
        ",\n  `headers` MAP<STRING, BYTES> METADATA" if headers else ""
    )
    return f"CREATE TEMPORARY TABLE {table} (\n  {columns}\n) WITH (\n  {_with(options)}\n)"


def _uri(location: str) -> str:
    """A file system URI: ``s3://...`` as given, a local path as ``file:///abs/path``."""
    return location if "://" in location else Path(location).resolve().as_uri()


def flink_options(settings: FlinkSettings, jars: list[str]) -> dict[str, str]:
    """The job's Flink configuration: jars, Python, parallelism, latency knobs, checkpointing
    (``settings.flink_config`` last, so it can override any of them)."""
    values = {
        "pipeline.name": settings.job_name,
        "pipeline.jars": ";".join(Path(j).resolve().as_uri() for j in jars),
        "parallelism.default": str(settings.parallelism),
        "python.execution-mode": settings.execution_mode,
        "python.fn-execution.bundle.time": str(settings.bundle_time_ms),
        "python.fn-execution.bundle.size": str(settings.bundle_size),
        "execution.buffer-timeout.interval": f"{settings.buffer_timeout_ms} ms",
        "execution.checkpointing.interval": f"{settings.checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE"
        if settings.exactly_once
        else "AT_LEAST_ONCE",
    }
    if settings.python_executable:
        values["python.executable"] = settings.python_executable
        values["python.client.executable"] = settings.python_executable
    if settings.checkpoint_dir:
        values["execution.checkpointing.dir"] = _uri(settings.checkpoint_dir)
        values["execution.checkpointing.externalized-checkpoint-retention"] = (
            "RETAIN_ON_CANCELLATION"
        )
    if settings.restore_from:
        values["execution.state-recovery.path"] = _uri(settings.restore_from)
    values.update(settings.flink_config)
    return values
