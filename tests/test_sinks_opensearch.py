"""The OpenSearch sink against a recorded contract (no OpenSearch server can run here).

A real HTTP server stands in for the cluster: it records every request the official client
(opensearch-py) sends and answers with the response shapes OpenSearch documents for
``PUT _index_template/<name>`` (``{"acknowledged": true}``) and ``POST _bulk`` (``took``,
``errors``, one ``items`` entry per action with ``_index``, ``_id``, ``status``, ``result`` or
``error``). It keeps the documents by ``_id`` the way an index does, and can answer 429 to a
whole request, 429 to one item or 400 (mapping error) to one item. The tests assert the exact
NDJSON bodies, ids and templates, and the sink's retry / reject behaviour.
What this does NOT prove: that a real cluster accepts the mapping and builds the dashboards;
see docs/opensearch/README.md.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from fixtures.http_receiver import HttpReceiver, Request, running_receiver
from fraudstream.sinks import SinkConsumer, SinkError, SinkSettings, SinkUnavailable, build_batch
from fraudstream.sinks.opensearch import (
    DECISION_MAPPING,
    DECISION_TEMPLATE,
    TRUTH_MAPPING,
    TRUTH_TEMPLATE,
    OpenSearchSink,
    index_template,
)
from fraudstream.sinks.samples import SampleDecision, produce_samples, sample_decisions
from fraudstream.sinks.url import open_sink
from fraudstream.stream.topics import Topics, ensure_topics
from fraudstream.stream.transport import Message, Transport, open_transport


@dataclass
class FakeCluster:
    """Documents by index and id, and the failures to inject."""

    docs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    reject_request_429: int = 0
    reject_item_429: set[str] = field(default_factory=set)
    reject_item_400: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Request) -> tuple[int, bytes]:
        path = request.path.split("?")[0]
        if request.method == "PUT" and path.startswith("/_index_template/"):
            return 200, b'{"acknowledged":true}'
        if request.method == "POST" and path == "/_bulk":
            return self.bulk(request.body)
        return 404, b'{"error":{"type":"unknown"},"status":404}'

    def bulk(self, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            if self.reject_request_429:
                self.reject_request_429 -= 1
                return 429, (
                    b'{"error":{"type":"es_rejected_execution_exception","reason":"queue full"},'
                    b'"status":429}'
                )
            lines = body.decode().split("\n")
            assert lines[-1] == "", "a bulk body ends with a newline"
            items = []
            for action_line, doc_line in zip(lines[0:-1:2], lines[1:-1:2], strict=True):
                ((op, meta),) = orjson.loads(action_line).items()
                key = (meta["_index"], meta["_id"])
                base = {"_index": meta["_index"], "_id": meta["_id"]}
                if meta["_id"] in self.reject_item_429:
                    self.reject_item_429.discard(meta["_id"])
                    items.append({op: {**base, "status": 429, "error": {"type": "circuit"}}})
                elif meta["_id"] in self.reject_item_400:
                    error = {
                        "type": "mapper_parsing_exception",
                        "reason": "failed to parse field [transaction_amt]. Preview of field's"
                        " value: 'SECRET-VALUE'",
                    }
                    items.append({op: {**base, "status": 400, "error": error}})
                elif op == "create" and key in self.docs:
                    error = {"type": "version_conflict_engine_exception"}
                    items.append({op: {**base, "status": 409, "error": error}})
                else:
                    existed = key in self.docs
                    self.docs[key] = orjson.loads(doc_line)
                    items.append(
                        {
                            op: {
                                **base,
                                "_version": 2 if existed else 1,
                                "result": "updated" if existed else "created",
                                "_shards": {"total": 2, "successful": 1, "failed": 0},
                                "_seq_no": len(self.docs),
                                "_primary_term": 1,
                                "status": 200 if existed else 201,
                            }
                        }
                    )
            errors = any("error" in next(iter(i.values())) for i in items)
            return 200, orjson.dumps({"took": 3, "errors": errors, "items": items})


@pytest.fixture
def cluster() -> Iterator[tuple[HttpReceiver, FakeCluster]]:
    fake = FakeCluster()
    with running_receiver() as receiver:
        receiver.responder = fake
        yield receiver, fake


@pytest.fixture
def topics() -> Topics:
    return Topics.prefixed(f"o{uuid.uuid4().hex[:6]}-")


@pytest.fixture
def transport(tmp_path: Path, topics: Topics) -> Iterator[Transport]:
    with open_transport(f"embedded:{tmp_path / 'log.db'}?session_timeout=3") as transport:
        ensure_topics(transport, 2, topics)
        yield transport


def bulk_requests(receiver: HttpReceiver) -> list[Request]:
    return [r for r in receiver.requests if r.path.split("?")[0] == "/_bulk"]


def expected_doc(sample: SampleDecision, topic: str, partition: int, offset: int) -> dict[str, Any]:
    doc = dict(sample.record)
    when = datetime.fromisoformat(sample.record["event_time"].replace("Z", "+00:00"))
    doc["@timestamp"] = round(when.timestamp() * 1000)
    doc["location"] = {"lat": doc["billing_latitude"], "lon": doc["billing_longitude"]}
    doc["kafka"] = {"topic": topic, "partition": partition, "offset": offset}
    return doc


def test_bulk_bodies_ids_and_templates_are_exactly_as_documented(
    cluster: tuple[HttpReceiver, FakeCluster], topics: Topics
) -> None:
    receiver, fake = cluster
    samples = sample_decisions(20, seed=3)
    sink = OpenSearchSink.connect([receiver.url], index=topics.processed, truth_index=topics.truth)
    messages = [Message(topics.processed, 1, 40 + i, s.key, s.value) for i, s in enumerate(samples)]
    truth = [Message(topics.truth, 1, 7, samples[0].key, samples[0].truth_value())]
    result = sink.write(build_batch([*messages, *truth], [topics.truth]))
    assert (result.written, result.duplicates, result.rejected) == (20, 0, 0)

    templates = [r for r in receiver.requests if r.path.startswith("/_index_template/")]
    assert [(r.method, r.path) for r in templates] == [
        ("PUT", f"/_index_template/{DECISION_TEMPLATE}"),
        ("PUT", f"/_index_template/{TRUTH_TEMPLATE}"),
    ]
    assert orjson.loads(templates[0].body) == index_template(
        f"{topics.processed}*", DECISION_MAPPING
    )
    assert orjson.loads(templates[1].body) == index_template(f"{topics.truth}*", TRUTH_MAPPING)
    mapping = orjson.loads(templates[0].body)["template"]["mappings"]["properties"]
    assert mapping["location"] == {"type": "geo_point"}
    assert mapping["event_time"]["type"] == "date"
    assert mapping["transaction_amt"] == {"type": "double"}
    assert mapping["fd"]["properties"]["outcome"]["type"] == "keyword"
    assert mapping["fd"]["properties"]["ttdf"] == {"type": "double"}
    assert mapping["fd"]["properties"]["queue_time"] == {"type": "double"}

    (bulk,) = bulk_requests(receiver)
    assert bulk.method == "POST"
    assert bulk.header("Content-Type") == "application/json"
    lines = bulk.body.split(b"\n")
    assert lines[-1] == b""
    assert len(lines) == 2 * 21 + 1
    for i, sample in enumerate(samples):
        action, doc = orjson.loads(lines[2 * i]), orjson.loads(lines[2 * i + 1])
        assert action == {
            "index": {"_index": topics.processed, "_id": f"{topics.processed}+1+{40 + i}"}
        }
        assert doc == expected_doc(sample, topics.processed, 1, 40 + i)
    assert orjson.loads(lines[40]) == {
        "index": {"_index": topics.truth, "_id": samples[0].event_id}
    }
    truth_doc = orjson.loads(lines[41])
    assert truth_doc["is_fraud"] is samples[0].truth.is_fraud
    assert truth_doc["event_id"] == samples[0].event_id

    # The same batch again (a replay) overwrites the same documents.
    again = sink.write(build_batch(messages, [topics.truth]))
    assert (again.written, again.duplicates) == (0, 20)
    assert len(fake.docs) == 21
    sink.close()


def test_data_stream_mode_creates_and_counts_conflicts_as_written(
    cluster: tuple[HttpReceiver, FakeCluster], topics: Topics
) -> None:
    receiver, fake = cluster
    samples = sample_decisions(5, seed=4)
    sink = OpenSearchSink.connect([receiver.url], index=topics.processed, data_stream=True)
    batch = build_batch(
        [Message(topics.processed, 0, i, s.key, s.value) for i, s in enumerate(samples)]
    )
    assert sink.write(batch).written == 5
    assert sink.write(batch).duplicates == 5
    template = orjson.loads(receiver.requests[0].body)
    assert template["data_stream"] == {"timestamp_field": {"name": "@timestamp"}}
    actions = [orjson.loads(line) for line in bulk_requests(receiver)[0].body.split(b"\n")[0:-1:2]]
    assert all(set(a) == {"create"} for a in actions)
    assert len(fake.docs) == 5
    sink.close()


def test_the_sink_consumer_retries_throttling_and_rejects_poison_documents(
    cluster: tuple[HttpReceiver, FakeCluster],
    transport: Transport,
    topics: Topics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver, fake = cluster
    samples = sample_decisions(300, seed=6)
    with transport.producer() as producer:
        produce_samples(producer, samples, topics)
    partition_of: dict[str, tuple[int, int]] = {}
    with transport.consumer("peek", [topics.processed]) as peek:
        deadline = time.monotonic() + 20
        while len(partition_of) < len(samples) and time.monotonic() < deadline:
            for m in peek.poll(500, 0.2):
                partition_of[orjson.loads(m.value)["event_id"]] = (m.partition, m.offset)
    ids = {e: f"{topics.processed}+{p}+{o}" for e, (p, o) in partition_of.items()}
    poison = ids[samples[10].event_id]
    fake.reject_request_429 = 2  # the cluster is overloaded for two requests
    fake.reject_item_429 = {ids[samples[20].event_id]}  # then one document is throttled
    fake.reject_item_400 = {poison}  # and one can never be indexed
    caplog.set_level(logging.INFO)

    sink = open_sink(
        f"opensearch://{receiver.url.removeprefix('http://')}?index={topics.processed}"
        f"&truth_index={topics.truth}",
        Path("."),
    )
    assert isinstance(sink, OpenSearchSink)
    settings = SinkSettings(batch_size=100, max_delay=0.1, poll_timeout=0.05, retry_initial=0.02)
    with SinkConsumer(transport, sink, settings, topics=topics) as consumer:
        consumer.run(idle_timeout=0.5)
    sink.close()
    assert consumer.stats.retries == 3
    assert consumer.stats.rejected == 1
    decisions = {k[1] for k in fake.docs if k[0] == topics.processed}
    assert decisions == set(ids.values()) - {poison}
    truths = {k[1] for k in fake.docs if k[0] == topics.truth}
    assert truths == {s.event_id for s in samples}
    for sample in samples[:30]:
        if ids[sample.event_id] == poison:
            continue
        partition, offset = partition_of[sample.event_id]
        doc = fake.docs[(topics.processed, ids[sample.event_id])]
        assert doc == expected_doc(sample, topics.processed, partition, offset)
    assert f"document {poison} refused" in caplog.text
    assert "mapper_parsing_exception" in caplog.text
    assert "SECRET-VALUE" not in caplog.text  # the reason quotes a field value: never logged


def test_a_cluster_that_is_down_or_refuses_the_template(topics: Topics) -> None:
    with running_receiver() as receiver:
        url = receiver.url
    sink = OpenSearchSink.connect([url], index=topics.processed, timeout=2)
    batch = build_batch(
        [Message(topics.processed, 0, 0, b"k", sample_decisions(1, seed=1)[0].value)]
    )
    with pytest.raises(SinkUnavailable):
        sink.write(batch)
    sink.close()
    with running_receiver() as receiver:
        receiver.status = 400
        sink = OpenSearchSink.connect([receiver.url], index=topics.processed)
        with pytest.raises(SinkError, match="index template refused"):
            sink.write(batch)
        sink.close()
