"""Embedded transport specifics: several processes on one file, expiry, batching, durability."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import confluent_kafka
import pytest

from fraudstream.stream.transport import (
    CommitFailed,
    Message,
    TopicPartition,
    TransactionAborted,
    TransportClosed,
    murmur2,
    partition_for_key,
)
from fraudstream.stream.transport.embedded import EmbeddedTransport, range_assignment
from fraudstream.stream.transport.embedded.headers import decode_headers, encode_headers


def run_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCE_CHILD = """
    import sys
    from fraudstream.stream.transport import open_transport
    with open_transport(sys.argv[1]) as transport, transport.producer() as producer:
        for i in range(int(sys.argv[2])):
            producer.produce("events", str(i).encode(), key=f"k{i % 7}".encode(),
                             headers={"from": "child"})
"""

CONSUME_CHILD = """
    import json, sys
    from fraudstream.stream.transport import open_transport
    with open_transport(sys.argv[1]) as transport:
        with transport.consumer(sys.argv[2], ["events"]) as consumer:
            seen = []
            while True:
                batch = consumer.poll(max_messages=50, timeout=0.5)
                if batch:
                    consumer.commit(batch)
                    seen += [m.value.decode() for m in batch]
                elif consumer.lag().total == 0:
                    break
    print(json.dumps(seen))
"""


def test_messages_cross_processes_and_survive_restarts(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "log.db"
    url = f"embedded://{path}"
    with EmbeddedTransport(path) as transport:
        transport.create_topics(["events"], partitions=3)
        consumer = transport.consumer("parent", ["events"])
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(PRODUCE_CHILD), url, "500"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen: list[Message] = []
        deadline = time.monotonic() + 60
        while len(seen) < 500 and time.monotonic() < deadline:
            seen += consumer.poll(timeout=0.2)  # reads while the child writes
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert sorted(int(m.value) for m in seen) == list(range(500))
        assert all(m.headers == (("from", b"child"),) for m in seen)
        assert all(m.partition == partition_for_key(m.key or b"", 3) for m in seen)
        for p in range(3):  # dense offsets per partition
            offsets = [m.offset for m in seen if m.partition == p]
            assert offsets == list(range(len(offsets)))
        consumer.commit(seen[:300])
        consumer.close()
    # A new process in the same group continues from the committed offsets.
    done = run_child(CONSUME_CHILD, url, "parent")
    assert done.returncode == 0, done.stderr
    rest = json.loads(done.stdout)
    assert sorted(int(v) for v in rest) == sorted(int(m.value) for m in seen[300:])
    # Reopening in this process: everything is still there and the group has no lag left.
    with EmbeddedTransport(path) as transport:
        assert sum(transport.end_offsets("events").values()) == 500
        with transport.consumer("parent", ["events"]) as again:
            assert again.lag().total == 0
            assert again.poll(timeout=0.2) == []


def test_processes_in_one_group_share_the_work_once(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    url = f"embedded:{path}"
    with EmbeddedTransport(path) as transport:
        transport.create_topics(["events"], partitions=4)
        with transport.producer() as producer:
            for i in range(2000):
                producer.produce("events", str(i).encode(), key=str(i).encode())
    children = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CONSUME_CHILD), url, "workers"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    values = sorted(int(v) for got in results for v in got)
    assert values == list(range(2000))  # every message once across both processes


def test_silent_member_expires_and_its_partitions_move(tmp_path: Path) -> None:
    with EmbeddedTransport(tmp_path / "log.db", session_timeout=0.5) as transport:
        transport.create_topics(["t"], partitions=4)
        with transport.producer() as producer:
            for i in range(40):
                producer.produce("t", b"x", key=str(i).encode())
        alive = transport.consumer("g", ["t"])
        silent = transport.consumer("g", ["t"])
        deadline = time.monotonic() + 10
        while len(alive.assignment()) != 2 or len(silent.assignment()) != 2:
            assert time.monotonic() < deadline
            alive.poll(max_messages=1, timeout=0.01)
            silent.poll(max_messages=1, timeout=0.01)
        # Each member polled one message per round: commit nothing, then silent stops polling.
        silent_batch = silent.poll(timeout=0.1)
        assert silent_batch
        time.sleep(0.6)
        everything = frozenset(TopicPartition("t", p) for p in range(4))
        deadline = time.monotonic() + 10
        while alive.assignment() != everything:
            assert time.monotonic() < deadline
            alive.poll(timeout=0.05)
        # The expired member can no longer commit; it rejoins on its next poll.
        with pytest.raises(CommitFailed):
            silent.commit(silent_batch)
        deadline = time.monotonic() + 10
        while len(silent.assignment()) != 2:
            assert time.monotonic() < deadline
            silent.poll(timeout=0.05)
            alive.poll(timeout=0.05)
        alive.close()
        silent.close()


def test_transaction_of_a_stale_member_is_aborted(tmp_path: Path) -> None:
    with EmbeddedTransport(tmp_path / "log.db") as transport:
        transport.create_topics(["in", "out"], partitions=2)
        with transport.producer() as producer:
            for i in range(10):
                producer.produce("in", b"x", key=str(i).encode())
        first = transport.consumer("g", ["in"])
        batch = first.poll(timeout=1)
        second = transport.consumer("g", ["in"])
        while len(second.assignment()) != 1:
            first.poll(timeout=0.01)
            second.poll(timeout=0.01)
        txp = transport.transactional_producer("tx")
        txp.begin()
        txp.produce("out", b"result")
        with pytest.raises(TransactionAborted):
            txp.commit_with_offsets(first, batch)  # half of batch is second's now
        assert not txp.in_transaction
        assert transport.end_offsets("out") == {0: 0, 1: 0}
        assert first.committed() == {}
        txp.close()
        first.close()
        second.close()


def test_linger_writes_without_flush(tmp_path: Path) -> None:
    with EmbeddedTransport(tmp_path / "log.db", linger=0.01, batch_size=10_000) as transport:
        transport.create_topics(["t"])
        producer = transport.producer()
        producer.produce("t", b"one")
        deadline = time.monotonic() + 5
        while transport.end_offsets("t") != {0: 1}:
            assert time.monotonic() < deadline, "the background writer did not write"
            time.sleep(0.01)
        producer.close()
        with pytest.raises(TransportClosed):
            producer.produce("t", b"late")


def test_file_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "log.db"
    EmbeddedTransport(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            "1",
        )
    conn.close()


def test_header_codec_round_trips() -> None:
    for headers in [(), (("a", b""),), (("ünï", b"\x00" * 70000), ("a", b"1"), ("a", b"2"))]:
        assert decode_headers(encode_headers(headers)) == headers


def test_range_assignment_is_kafka_range() -> None:
    members = [("b", ("t", "u")), ("a", ("t",)), ("c", ("t", "u"))]
    got = range_assignment(members, {"t": 5, "u": 2})
    assert got["a"] == {TopicPartition("t", 0), TopicPartition("t", 1)}
    assert got["b"] == {TopicPartition("t", 2), TopicPartition("t", 3), TopicPartition("u", 0)}
    assert got["c"] == {TopicPartition("t", 4), TopicPartition("u", 1)}


@pytest.mark.parametrize(
    "key", [b"", b"a", b"ab", b"abc", b"abcd", b"abcde", b"customer-12345", bytes(range(256))]
)
def test_murmur2_matches_kafka(key: bytes) -> None:
    for partitions in (1, 2, 3, 4, 7, 12, 100):
        assert partition_for_key(key, partitions) == confluent_kafka.murmur2(key, partitions)
    assert -(2**31) <= murmur2(key) < 2**31


def test_murmur2_known_values() -> None:
    # From Kafka's UtilsTest.testMurmur2.
    cases = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    for data, expected in cases.items():
        assert murmur2(data) == expected
