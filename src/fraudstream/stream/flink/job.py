"""The PyFlink job: ``transactions`` -> validate -> keyed state stages -> score -> Kafka.

::

    Kafka transactions ──> validate ──(dead letters: side output)─────────────┐
                             │ key by entity_id                              │
                           entity stage   (ValueState: the entity's EntityState bytes)
                             │ key by the ip key    ─> ip stage    (ValueState)  │
                             │ key by the email key ─> email stage (ValueState)  │
                             │ key by the BIN key   ─> bin stage + scoring ──────┤
                             v                                               v
                   Kafka processed_transactions                 Kafka transactions_dlq

The stages' logic is :mod:`fraudstream.stream.flink.stages` (no PyFlink there). Kafka is read and
written through Flink's Kafka table connector with ``raw`` formats because only it exposes the
record key, headers, partition, offset and timestamp (the dead-letter format needs them) and
writes headers; the processing in between is the DataStream API.

Run it with ``python -m fraudstream.stream.flink.job SETTINGS.json`` under a Python that has
PyFlink (``fraudstream flink run`` does that); this module is the only one importing PyFlink.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from pyflink.common import Configuration, Row, Types
from pyflink.datastream import (
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from pyflink.datastream.state import ValueStateDescriptor
from pyflink.table import StreamTableEnvironment

from fraudstream.stream.flink.launcher import STARTED_MARKER
from fraudstream.stream.flink.settings import FlinkSettings, WorkerSettings, java_kafka_properties
from fraudstream.stream.flink.stages import SHARED_KINDS, InFlight, Stages, message_from_row
from fraudstream.stream.flink.tables import SOURCE_QUERY, flink_options, sink_ddl, source_ddl
from fraudstream.stream.records import Output

__all__ = ["build", "configuration", "main", "run"]

log = logging.getLogger("fraudstream.stream.flink")

BYTES = Types.PRIMITIVE_ARRAY(Types.BYTE())
DECISION = Types.ROW_NAMED(["k", "v"], [BYTES, BYTES])
DEAD_LETTER = Types.ROW_NAMED(
    ["k", "v", "headers"], [BYTES, BYTES, Types.MAP(Types.STRING(), BYTES)]
)
DLQ_TAG = OutputTag("dead-letters", DEAD_LETTER)


# --------------------------------------------------------------------------- functions


def _millis(ts: Any) -> int:
    """Epoch ms of a record timestamp: PyFlink's Instant (process mode) or Java's (thread)."""
    if ts is None:
        return 0
    if hasattr(ts, "to_epoch_milli"):
        return int(ts.to_epoch_milli())
    return int(ts.toEpochMilli())


def _dead_letter_row(out: Output) -> Row:
    return Row(k=out.key, v=out.value, headers=dict(out.headers))


class Validate(ProcessFunction):  # type: ignore[misc]
    """Parse each Kafka record; dead letters go to the side output."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.stages: Stages | None = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self.stages = Stages(self.settings)

    def close(self) -> None:
        if self.stages is not None:
            self.stages.close()

    def process_element(self, row: Row, ctx: ProcessFunction.Context) -> Iterator[Any]:
        assert self.stages is not None
        key, value, headers, topic, partition, offset, ts = row
        message = message_from_row(topic, partition, offset, key, value, headers, _millis(ts))
        result = self.stages.validate(message)
        if isinstance(result, InFlight):
            yield result
        else:
            yield DLQ_TAG, _dead_letter_row(result)


class _Keyed(KeyedProcessFunction):  # type: ignore[misc]
    """A stage whose state (one EntityState, serialised) is Flink keyed state."""

    def __init__(self, settings: WorkerSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.stages: Stages | None = None
        self.state: Any = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self.stages = Stages(self.settings)
        self.stages.warm()
        # Pickled bytes, not a byte array: PyFlink's thread mode cannot read a missing
        # byte-array state (its converter iterates None) and would turn bytes into a tuple.
        descriptor = ValueStateDescriptor(f"{self.name}-state", Types.PICKLED_BYTE_ARRAY())
        self.state = runtime_context.get_state(descriptor)

    def close(self) -> None:
        if self.stages is not None:
            self.stages.close()

    def _stored(self) -> bytes | None:
        value = self.state.value()
        return None if value is None else bytes(value)


class EntityStage(_Keyed):
    def __init__(self, settings: WorkerSettings) -> None:
        super().__init__(settings, "entity")

    def process_element(self, item: InFlight, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        assert self.stages is not None
        new = self.stages.entity(item, self._stored())
        if new is not None:
            self.state.update(new)
        yield item


class SharedStage(_Keyed):
    """The state of one shared kind (ip, email or BIN); the last one also scores."""

    def __init__(self, settings: WorkerSettings, kind: str, last: bool) -> None:
        super().__init__(settings, kind)
        self.kind = kind
        self.last = last

    def process_element(self, item: InFlight, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        assert self.stages is not None
        if item.key_for(self.kind) in item.keys:
            new = self.stages.shared(self.kind, item, self._stored())
            if new is not None:
                self.state.update(new)
        if not self.last:
            yield item
            return
        out, decided = self.stages.finish(item)
        if decided:
            yield Row(k=out.key, v=out.value)
        else:
            yield DLQ_TAG, _dead_letter_row(out)


def _entity_id(item: InFlight) -> str:
    return item.tx.entity_id


class _KindKey:
    """Key selector for a shared stage (a class, not a lambda: it pickles by reference)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, item: InFlight) -> str:
        return item.key_for(self.kind)


# --------------------------------------------------------------------------- the job graph


def configuration(settings: FlinkSettings, jars: list[str]) -> Configuration:
    """:func:`~fraudstream.stream.flink.tables.flink_options` as a PyFlink Configuration."""
    conf = Configuration()
    for key, value in flink_options(settings, jars).items():
        conf.set_string(key, value)
    return conf


def build(settings: FlinkSettings, jars: list[str]) -> tuple[StreamExecutionEnvironment, Any]:
    """The environment and the statement set holding the whole job (not started)."""
    env = StreamExecutionEnvironment.get_execution_environment(configuration(settings, jars))
    t_env = StreamTableEnvironment.create(env)
    topics = settings.worker.topics
    t_env.execute_sql(source_ddl(settings))
    t_env.execute_sql(sink_ddl(settings, "fs_processed", topics.processed, headers=False))
    t_env.execute_sql(sink_ddl(settings, "fs_dlq", topics.dlq, headers=True))
    rows = t_env.to_data_stream(t_env.sql_query(SOURCE_QUERY))
    worker = settings.worker
    pickled = Types.PICKLED_BYTE_ARRAY()
    valid = rows.process(Validate(worker), output_type=pickled).name("validate")
    stream = (
        valid.key_by(_entity_id, key_type=Types.STRING())
        .process(EntityStage(worker), output_type=pickled)
        .name("entity state")
    )
    for kind in SHARED_KINDS[:-1]:
        stream = (
            stream.key_by(_KindKey(kind), key_type=Types.STRING())
            .process(SharedStage(worker, kind, last=False), output_type=pickled)
            .name(f"{kind} state")
        )
    last = SHARED_KINDS[-1]
    decisions = (
        stream.key_by(_KindKey(last), key_type=Types.STRING())
        .process(SharedStage(worker, last, last=True), output_type=DECISION)
        .name(f"{last} state + scoring")
    )
    dead = valid.get_side_output(DLQ_TAG).union(decisions.get_side_output(DLQ_TAG))
    statements = t_env.create_statement_set()
    statements.add_insert("fs_processed", t_env.from_data_stream(decisions))
    statements.add_insert("fs_dlq", t_env.from_data_stream(dead))
    statements.attach_as_datastream()
    return env, statements


def run(settings: FlinkSettings, jars: list[str]) -> None:
    """Run on the local mini-cluster until the input ends (bounded) or SIGTERM/SIGINT
    (which cancels the job; with a checkpoint dir the last checkpoint is kept)."""
    unmapped = java_kafka_properties(settings.broker, settings.kafka_properties).unmapped
    if unmapped:
        log.warning(
            "broker URL options with no Java Kafka client equivalent, not used: %s"
            " (give Java properties with --kafka-property)",
            ", ".join(unmapped),
        )
    env, _ = build(settings, jars)
    started = time.monotonic()
    client = env.execute_async(settings.job_name)
    print(f"{STARTED_MARKER} (id {client.get_job_id()})", flush=True)
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)
    result = client.get_job_execution_result()
    while not result.done():
        if stop.wait(0.2):
            log.info("stopping: cancelling the job")
            client.cancel().result()
            break
    else:
        result.result()  # raises if the job failed
    print(f"fraudstream-flink: job ended after {time.monotonic() - started:.1f}s", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        raise SystemExit("usage: python -m fraudstream.stream.flink.job SETTINGS.json JARS")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = FlinkSettings.from_json(Path(args[0]).read_text())
    run(settings, [j for j in args[1].split(";") if j])


if __name__ == "__main__":
    main()
