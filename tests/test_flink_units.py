"""The Flink job's parts that need no PyFlink: settings, Kafka properties, table DDL, finding the
deps, and the stage logic, checked record for record against the Python processor (the same
trained engine, in-process; keyed state as dicts, items pickled between stages as Flink does).

The job on a real mini-cluster and broker is tests/test_flink.py.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from fraudstream.detector.engine import Engine
from fraudstream.detector.registry import Registry, SQLiteDocumentStore
from fraudstream.errors import InvalidInput, NotFound
from fraudstream.events import MAX_MESSAGE_BYTES
from fraudstream.simulate import FakeClock
from fraudstream.stream.flink import deps as flink_deps
from fraudstream.stream.flink.settings import (
    FlinkSettings,
    WorkerSettings,
    java_kafka_properties,
)
from fraudstream.stream.flink.stages import SHARED_KINDS, InFlight, Stages
from fraudstream.stream.flink.tables import flink_options, sink_ddl, source_ddl
from fraudstream.stream.processor import Processor, ProcessorSettings
from fraudstream.stream.producer import simulated
from fraudstream.stream.records import DLQ_HEADERS, Output
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport import Message

pytest_plugins = ["fixtures.detector"]

#: Decision fields that depend on when it ran (left out of record comparisons).
TIMING_FIELDS = ("ttdf", "proc_time", "frauddetector_time", "queue_time", "decision_time")

Input = tuple[bytes | None, bytes, tuple[tuple[str, bytes], ...]]


# --------------------------------------------------------------------------- shared helpers


def simulated_inputs(count: int, *, seed_offset: int = 0) -> list[Input]:
    """``count`` simulated transactions of the trained customers (many per customer)."""
    from fixtures.detector import TRAINING_CUSTOMERS, TRAINING_SEED

    clock = FakeClock()
    good: list[Input] = []
    for record, _truth in simulated(
        1000.0,
        seed=TRAINING_SEED + seed_offset,
        n_customers=TRAINING_CUSTOMERS,
        limit=count,
        burst=None,
        clock=clock.time,
        sleep=clock.sleep,
    ):
        good.append((str(record["entity_id"]).encode(), orjson.dumps(record), ()))
    return good


def make_inputs(count: int, *, seed_offset: int = 0) -> list[Input]:
    """:func:`simulated_inputs`, one of them redelivered, and every kind of bad record."""
    good = simulated_inputs(count, seed_offset=seed_offset)
    first = orjson.loads(good[0][1])
    bad: list[Input] = [
        (b"bad-json", b'{"event_id": "x",', (("trace", b"t-1"),)),
        (None, b"[1, 2, 3]", ()),
        (b"missing", orjson.dumps({"event_id": "e-missing"}), (("trace", b"t-2"),)),
        (b"negative", orjson.dumps({**first, "event_id": "neg", "transaction_amt": -5}), ()),
        (b"huge", b'{"pad": "' + b"x" * (MAX_MESSAGE_BYTES + 10) + b'"}', ()),
        (None, b"", ()),
    ]
    out = list(good)
    step = max(1, len(good) // (len(bad) + 1))
    for i, item in enumerate(bad):
        out.insert((i + 1) * step + i, item)
    out.append(good[min(10, len(good) - 1)])  # a redelivered event: counted once, duplicate
    return out


def fd_without_timing(value: bytes) -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads(value)
    for name in (*TIMING_FIELDS, "state_counts"):
        record["fd"].pop(name, None)
    return record


def dead_letter_view(message_headers: Any, value: bytes, key: bytes | None) -> dict[str, Any]:
    """A dead letter's content without its write time (``dlq.time_ms``)."""
    headers = {k: v for k, v in message_headers if k != DLQ_HEADERS.time}
    return {"key": key, "value": value, "headers": headers}


def expected_state_counts(records: list[tuple[int, dict[str, Any]]]) -> dict[int, dict[str, int]]:
    """Input offset -> for each key kind, how many earlier events (first deliveries) share the
    event's key: what the state of that key counted before the event."""
    counts: dict[str, int] = {}
    seen: set[str] = set()
    out: dict[int, dict[str, int]] = {}
    for offset, record in records:
        keys = {
            "entity": f"e:{record['entity_id']}",
            "ip": f"ip:{record['ip_address']}",
            "email": f"email:{str(record['email_address']).lower()}",
            "bin": f"bin:{record['card_bin']}",
        }
        out[offset] = {kind: counts.get(key, 0) for kind, key in keys.items()}
        if record["event_id"] in seen:
            continue
        seen.add(record["event_id"])
        for key in keys.values():
            counts[key] = counts.get(key, 0) + 1
    return out


# --------------------------------------------------------------------------- no PyFlink at import


def test_fraudstream_never_imports_pyflink() -> None:
    code = (
        "import sys\n"
        "import fraudstream.cli.flink_cmds, fraudstream.stream.flink.launcher\n"
        "import fraudstream.stream.flink.stages, fraudstream.stream.flink.tables\n"
        "import fraudstream.stream, fraudstream.detector.engine\n"
        "assert not any(m.startswith('pyflink') for m in sys.modules), 'pyflink imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --------------------------------------------------------------------------- finding the deps


def test_missing_pyflink_names_the_deps_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDSTREAM_FLINK_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("FRAUDSTREAM_FLINK_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(flink_deps.FlinkDepsMissing, match=r"scripts/flink-deps\.sh"):
        flink_deps.find_flink_deps()


def test_missing_jars_name_the_deps_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 0\n")  # "import pyflink" succeeds
    fake.chmod(0o755)
    monkeypatch.setenv("FRAUDSTREAM_FLINK_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("FRAUDSTREAM_FLINK_PYTHON", str(fake))
    monkeypatch.delenv("FRAUDSTREAM_FLINK_JARS", raising=False)
    with pytest.raises(flink_deps.FlinkDepsMissing, match=r"jars missing.*scripts/flink-deps\.sh"):
        flink_deps.find_flink_deps()
    lib = tmp_path / "empty" / "lib"
    lib.mkdir(parents=True)
    for jar in flink_deps.JARS:
        (lib / jar).write_bytes(b"PK")
    found = flink_deps.find_flink_deps()
    assert found.python == fake
    assert found.jars == tuple(lib / j for j in flink_deps.JARS)
    assert found.env({"PYTHONPATH": "/x"})["PYTHONPATH"].split(":") == [str(found.src), "/x"]
    assert (found.src / "fraudstream" / "__init__.py").is_file()


# --------------------------------------------------------------------------- settings, Kafka, DDL


def test_settings_round_trip_through_json(tmp_path: Path) -> None:
    settings = FlinkSettings(
        broker="kafka://u:p%40ss@h1:9092,h2:9092?security.protocol=SASL_SSL",
        worker=WorkerSettings(registry="/r.db", topics=Topics.prefixed("x-"), debug_state=True),
        parallelism=3,
        exactly_once=True,
        bounded={0: 10, 2: 7},
        flink_config={"state.backend.type": "rocksdb"},
    )
    path = tmp_path / "s.json"
    settings.write(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert FlinkSettings.from_json(path.read_text()) == settings
    assert settings.redacted_kafka()["sasl.jaas.config"] == "***"
    with pytest.raises(InvalidInput, match="parallelism"):
        FlinkSettings(broker="kafka://h:1", worker=WorkerSettings(registry="r"), parallelism=0)
    with pytest.raises(InvalidInput, match="kafka://"):
        FlinkSettings(broker="embedded:/tmp/log.db", worker=WorkerSettings(registry="r"))


def test_java_kafka_properties_from_the_processor_url() -> None:
    config = java_kafka_properties(
        "kafka://alice:s%22cret@b1:9093?security.protocol=SASL_SSL&sasl.mechanism=SCRAM-SHA-512"
        "&ssl.ca.location=/etc/ca.pem&ssl.endpoint.identification.algorithm=none"
        "&consumer.fetch.wait.max.ms=10&producer.linger.ms=1&admin.request.timeout.ms=5"
        "&statistics.interval.ms=1000",
        {"producer.compression.type": "zstd", "ssl.truststore.type": "PEM"},
    )
    assert config.bootstrap == "b1:9093"
    assert config.common == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "ssl.truststore.location": "/etc/ca.pem",
        "ssl.truststore.type": "PEM",
        "ssl.endpoint.identification.algorithm": "",
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required"
        ' username="alice" password="s\\"cret";',
    }
    assert config.consumer == {"fetch.max.wait.ms": "10"}
    assert config.producer == {"linger.ms": "1", "compression.type": "zstd"}
    assert config.unmapped == ("statistics.interval.ms",)
    plain = java_kafka_properties("kafka://bob:pw@b:1?security.protocol=SASL_PLAINTEXT")
    assert plain.common["sasl.jaas.config"].startswith(
        "org.apache.kafka.common.security.plain.PlainLoginModule required"
    )
    with pytest.raises(InvalidInput, match=r"sasl\.jaas\.config"):
        java_kafka_properties("kafka://bob:pw@b:1?sasl.mechanism=GSSAPI")


def test_table_ddl_quotes_values_and_bounds_the_source() -> None:
    settings = FlinkSettings(
        broker="kafka://u:it's@b:9092?security.protocol=SASL_PLAINTEXT",
        worker=WorkerSettings(registry="r", topics=Topics.prefixed("p-")),
        group_id="grp",
        bounded={1: 5, 0: 3},
        exactly_once=True,
    )
    ddl = source_ddl(settings)
    assert "'topic' = 'p-transactions'" in ddl
    assert "password=\"it''s\"" in ddl  # a quote in a secret cannot end the SQL string
    assert "'scan.bounded.specific-offsets' = 'partition:0,offset:3;partition:1,offset:5'" in ddl
    assert "'properties.isolation.level' = 'read_committed'" in ddl
    assert "'scan.startup.mode' = 'group-offsets'" in ddl
    processed = sink_ddl(settings, "fs_processed", "p-processed_transactions", headers=False)
    dlq = sink_ddl(settings, "fs_dlq", "p-transactions_dlq", headers=True)
    assert "'sink.delivery-guarantee' = 'exactly-once'" in processed
    assert "'sink.transactional-id-prefix' = 'grp-fraudstream-fs_processed'" in processed
    assert "'sink.transactional-id-prefix' = 'grp-fraudstream-fs_dlq'" in dlq
    assert "`headers` MAP<STRING, BYTES> METADATA" in dlq
    assert "headers" not in processed.split("WITH")[0]


def test_flink_options(tmp_path: Path) -> None:
    base = FlinkSettings(broker="kafka://b:1", worker=WorkerSettings(registry="r"))
    options = flink_options(base, [str(tmp_path / "a.jar"), str(tmp_path / "b.jar")])
    assert options["pipeline.jars"] == f"file://{tmp_path}/a.jar;file://{tmp_path}/b.jar"
    assert options["execution.checkpointing.mode"] == "AT_LEAST_ONCE"
    assert options["python.execution-mode"] == "process"
    assert "python.executable" not in options  # a cluster's -pyexec / -pyarch decides
    assert "execution.checkpointing.dir" not in options
    local = FlinkSettings(
        broker="kafka://b:1",
        worker=WorkerSettings(registry="r"),
        exactly_once=True,
        python_executable="/venv/bin/python",
        checkpoint_dir=str(tmp_path / "chk"),
        restore_from="s3://bucket/chk-7",
        flink_config={"parallelism.default": "3"},
        parallelism=2,
    )
    options = flink_options(local, [])
    assert options["execution.checkpointing.mode"] == "EXACTLY_ONCE"
    assert options["python.executable"] == options["python.client.executable"] == "/venv/bin/python"
    assert options["execution.checkpointing.dir"] == (tmp_path / "chk").as_uri()
    assert options["execution.state-recovery.path"] == "s3://bucket/chk-7"
    assert options["parallelism.default"] == "3"  # flink_config wins


# --------------------------------------------------------------------------- the stages


class KeyedChain:
    """The job's stages with keyed state as dicts; items pickled between stages as in Flink."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.stages = Stages(settings)
        self.entity: dict[str, bytes] = {}
        self.shared: dict[str, dict[str, bytes]] = {kind: {} for kind in SHARED_KINDS}

    def run(self, message: Message) -> Output:
        first = self.stages.validate(message)
        if not isinstance(first, InFlight):
            return first
        item: InFlight = pickle.loads(pickle.dumps(first))
        new = self.stages.entity(item, self.entity.get(item.tx.entity_id))
        if new is not None:
            self.entity[item.tx.entity_id] = new
        for kind in SHARED_KINDS:
            item = pickle.loads(pickle.dumps(item))
            key = item.key_for(kind)
            if key in item.keys:
                new = self.stages.shared(kind, item, self.shared[kind].get(key))
                if new is not None:
                    self.shared[kind][key] = new
        out, _decided = self.stages.finish(item)
        return out


def messages(inputs: list[Input], topic: str = "transactions") -> list[Message]:
    return [
        Message(topic, 0, offset, key, value, headers, 1_700_000_000_000 + offset)
        for offset, (key, value, headers) in enumerate(inputs)
    ]


@pytest.fixture
def engine(detector_home: Path) -> Iterator[Engine]:
    engine = Engine.open(detector_home)
    yield engine
    engine.close()


def test_stages_write_the_processors_records_and_states(
    engine: Engine, detector_home: Path
) -> None:
    inputs = messages(make_inputs(400))
    processor = Processor(
        None,  # type: ignore[arg-type]  # handle() scores and builds records, no transport
        engine,
        ProcessorSettings(summary_every=0, lag_every=0, instance="t"),
    )
    expected, _, kinds = processor.handle(inputs)
    chain = KeyedChain(
        WorkerSettings(registry=str(detector_home / "registry.db"), debug_state=True)
    )
    records = {
        orjson.loads(m.value)["event_id"]: m.offset for m in inputs if kinds[m.offset] is None
    }
    valid = [(m.offset, orjson.loads(m.value)) for m in inputs if kinds[m.offset] is None]
    counts = expected_state_counts(valid)
    duplicates = 0
    for message, want in zip(inputs, expected, strict=True):
        got = chain.run(message)
        assert (got.topic, got.key, got.source) == (want.topic, want.key, want.source)
        if kinds[message.offset] is not None:  # a dead letter
            assert dead_letter_view(got.headers, got.value, got.key) == dead_letter_view(
                want.headers, want.value, want.key
            )
            continue
        assert fd_without_timing(got.value) == fd_without_timing(want.value)
        fd = orjson.loads(got.value)["fd"]
        assert fd["state_counts"] == counts[message.offset], message.offset
        assert fd["frauddetector_time"] > 0
        duplicates += fd["duplicate"]
    assert duplicates == 1
    assert len(records) == 400
    # Every state the chain keeps is byte for byte the processor's.
    kept = {**chain.entity, **{k: v for d in chain.shared.values() for k, v in d.items()}}
    assert len(kept) > 400
    for key, data in chain.entity.items():
        state = engine.state.get_many([f"entity:customer:{key}"])[f"entity:customer:{key}"]
        assert state is not None
        assert state.to_bytes() == data
    for kind in SHARED_KINDS:
        for key, data in chain.shared[kind].items():
            state = engine.state.get_many([key])[key]
            assert state is not None
            assert state.to_bytes() == data, key


def test_scoring_failure_is_the_processors_dead_letter(
    engine: Engine, detector_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = messages(simulated_inputs(1))[0]
    chain = KeyedChain(WorkerSettings(registry=str(detector_home / "registry.db")))

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("model exploded")

    monkeypatch.setattr(engine, "predict", boom)
    monkeypatch.setattr(chain.stages.engine, "predict", boom)
    processor = Processor(None, engine, ProcessorSettings(summary_every=0, lag_every=0))  # type: ignore[arg-type]
    (want,), _, (kind,) = processor.handle([message])
    got = chain.run(message)
    assert kind == "scoring_error"
    assert dead_letter_view(got.headers, got.value, got.key) == dead_letter_view(
        want.headers, want.value, want.key
    )
    assert dict(got.headers)[DLQ_HEADERS.reason] == b"scoring failed: RuntimeError: model exploded"


def test_a_stage_error_is_dead_lettered_and_changes_no_state(detector_home: Path) -> None:
    message = messages(simulated_inputs(1))[0]
    chain = KeyedChain(WorkerSettings(registry=str(detector_home / "registry.db")))
    entity_id = orjson.loads(message.value)["entity_id"]
    chain.entity[entity_id] = b"not a state"
    out = chain.run(message)
    headers = dict(out.headers)
    assert headers[DLQ_HEADERS.kind] == b"scoring_error"
    assert headers[DLQ_HEADERS.error] == b"StateFormatError"
    assert chain.entity[entity_id] == b"not a state"
    assert all(not states for states in chain.shared.values())


def test_a_newly_activated_version_reaches_the_stages_without_restart(detector_home: Path) -> None:
    chain = KeyedChain(
        WorkerSettings(registry=str(detector_home / "registry.db"), refresh_seconds=0.0)
    )
    first, second = messages(simulated_inputs(2))
    before = orjson.loads(chain.run(first).value)["fd"]
    assert before["detector_version_id"] == "1"
    activate_block_everything(detector_home / "registry.db")
    after = orjson.loads(chain.run(second).value)["fd"]
    assert after["detector_version_id"] == "2"
    assert after["outcome"] == "block"


def test_no_active_version_stalls_instead_of_dead_lettering(detector_home: Path) -> None:
    path = detector_home / "registry.db"
    registry = Registry(SQLiteDocumentStore(path))
    registry.update_detector_version_status("fraudstream_detector", "1", "INACTIVE")
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:  # an operator re-activates it while the stage waits
            registry.update_detector_version_status("fraudstream_detector", "1", "ACTIVE")

    stages = Stages(WorkerSettings(registry=str(path), refresh_seconds=0.0), sleep=sleep)
    item = stages.validate(messages(simulated_inputs(1))[0])
    assert isinstance(item, InFlight)
    stages.entity(item, None)
    assert item.error is None
    assert len(sleeps) == 3
    registry.store.close()
    with pytest.raises(NotFound):
        Stages(WorkerSettings(registry=str(detector_home / "missing.db")))


def activate_block_everything(registry_path: Path) -> str:
    """Detector version 2: the same model, one rule blocking every event; made ACTIVE."""
    from fraudstream.detector.defaults import DETECTOR_ID, MODEL_ID, MODEL_TYPE
    from fraudstream.detector.registry import score_variable

    registry = Registry(SQLiteDocumentStore(registry_path))
    try:
        score = "$" + score_variable(MODEL_ID)
        rule = registry.create_rule("block_all", DETECTOR_ID, f"{score} >= 0", ["block"])
        active = registry.active_version(DETECTOR_ID)
        assert active is not None
        version = registry.create_detector_version(
            DETECTOR_ID,
            [{"ruleId": "block_all", "ruleVersion": rule["ruleVersion"]}],
            [
                {
                    "modelId": MODEL_ID,
                    "modelType": MODEL_TYPE,
                    "modelVersionNumber": active["modelVersions"][0]["modelVersionNumber"],
                }
            ],
        )
        registry.update_detector_version_status(DETECTOR_ID, version["detectorVersionId"], "ACTIVE")
        return str(version["detectorVersionId"])
    finally:
        registry.store.close()
