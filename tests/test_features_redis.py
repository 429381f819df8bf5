"""RedisStateStore against a real redis-server: online == offline, several clients/processes."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import orjson
import pytest
import redis

from fixtures.feature_events import START, event_to_json, make_events
from fraudstream.detector.features import (
    TRANSACTION_SCHEMA,
    EntityState,
    FeatureExtractor,
    RedisStateStore,
    StateConflict,
    build_training_matrix,
    fit_vocabulary,
)
from fraudstream.events import Event

pytestmark = pytest.mark.redis

# A separate process scoring a slice of events through Redis; writes its vectors as .npy.
WORKER = """
import sys
import numpy as np
import orjson
from fraudstream.detector.features import FeatureExtractor, RedisStateStore
from fraudstream.events import Event

url, prefix, config_path, events_path, out_path = sys.argv[1:]
extractor = FeatureExtractor.from_config(orjson.loads(open(config_path, "rb").read()))
events = [Event(**item) for item in orjson.loads(open(events_path, "rb").read())]
with RedisStateStore(url, prefix=prefix) as store:
    rows = [extractor.process(event, store)[0] for event in events]
np.save(out_path, np.array(rows, dtype=np.float64).reshape(len(rows), -1))
"""


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return make_events(seed=23)


@pytest.fixture(scope="module")
def extractor(events: list[Event]) -> FeatureExtractor:
    return FeatureExtractor(TRANSACTION_SCHEMA, fit_vocabulary(events, TRANSACTION_SCHEMA))


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


def worker(
    url: str, prefix: str, extractor: FeatureExtractor, events: list[Event], tmp: Path, name: str
) -> subprocess.Popen[bytes]:
    config = tmp / f"{name}-config.json"
    config.write_bytes(orjson.dumps(extractor.to_config()))
    items = tmp / f"{name}-events.json"
    items.write_bytes(orjson.dumps([event_to_json(e) for e in events]))
    command = [sys.executable, "-c", WORKER, url, prefix, str(config), str(items)]
    return subprocess.Popen([*command, str(tmp / f"{name}.npy")], stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[bytes]) -> None:
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr.decode(errors="replace")


def test_online_through_redis_equals_offline(
    redis_url: str, prefix: str, events: list[Event], extractor: FeatureExtractor
) -> None:
    offline = build_training_matrix(events, extractor)
    with RedisStateStore(redis_url, prefix=prefix) as store:
        online = np.vstack([extractor.process(event, store)[0] for event in events])
    assert online.tobytes() == offline.tobytes()


def test_two_clients_see_each_others_updates(
    redis_url: str, prefix: str, events: list[Event], extractor: FeatureExtractor
) -> None:
    offline = build_training_matrix(events, extractor)
    with (
        RedisStateStore(redis_url, prefix=prefix) as first,
        RedisStateStore(redis_url, prefix=prefix) as second,
    ):
        rows = []
        for index, event in enumerate(events):
            store = first if (index // 7) % 2 == 0 else second  # alternate in runs of 7
            vector, duplicate = extractor.process(event, store)
            assert not duplicate
            rows.append(vector)
        # A redelivery to the *other* client is still recognised.
        _, duplicate = extractor.process(events[0], second)
        assert duplicate
    assert np.array_equal(np.vstack(rows), offline, equal_nan=True)


def test_separate_processes_continue_each_others_state(
    redis_url: str, prefix: str, events: list[Event], extractor: FeatureExtractor, tmp_path: Path
) -> None:
    offline = build_training_matrix(events, extractor)
    one, two = len(events) // 3, 2 * len(events) // 3
    finish(worker(redis_url, prefix, extractor, events[:one], tmp_path, "a"))
    with RedisStateStore(redis_url, prefix=prefix) as store:
        middle = [extractor.process(event, store)[0] for event in events[one:two]]
    finish(worker(redis_url, prefix, extractor, events[two:], tmp_path, "c"))
    online = np.vstack([np.load(tmp_path / "a.npy"), *middle, np.load(tmp_path / "c.npy")])
    assert online.tobytes() == offline.tobytes()


def test_concurrent_processes_lose_no_update_on_shared_keys(
    redis_url: str, prefix: str, extractor: FeatureExtractor, tmp_path: Path
) -> None:
    # Two workers score different customers at the same time, all from one IP and one BIN:
    # the shared keys are read-modify-written by both. Checked writes make every event count.
    per_worker = 400

    def batch(worker_name: str) -> list[Event]:
        return [
            Event(
                f"{worker_name}-{i}", "customer", f"{worker_name}-cust-{i % 10}", START + i,
                {"transaction_amt": 2.0, "ip_address": "203.0.113.9", "card_bin": 499999,
                 "email_address": f"{worker_name}{i % 10}@x.example"},
            )
            for i in range(per_worker)
        ]  # fmt: skip

    processes = [
        worker(redis_url, prefix, extractor, batch(name), tmp_path, name) for name in ("p", "q")
    ]
    for process in processes:
        finish(process)
    with RedisStateStore(redis_url, prefix=prefix) as store:
        states = store.get_many(["ip:203.0.113.9", "bin:499999"])
    for key, state in states.items():
        assert state is not None, key
        assert state.count == 2 * per_worker, key
        assert len(state.seen["entity"]) == 20


def test_checked_write_detects_a_concurrent_writer(redis_url: str, prefix: str) -> None:
    with (
        RedisStateStore(redis_url, prefix=prefix) as slow,
        RedisStateStore(redis_url, prefix=prefix) as fast,
    ):
        assert slow.get_many(["k"]) == {"k": None}
        assert fast.get_many(["k"]) == {"k": None}
        state = EntityState()
        state.observe(START)
        fast.put_many({"k": state})
        with pytest.raises(StateConflict):
            slow.put_many({"k": state})
        found = slow.get_many(["k"])["k"]
        assert found == state
        found.observe(START + 1)
        slow.put_many({"k": found})  # after a fresh read it goes through
        assert fast.get_many(["k"])["k"] == found


def test_process_retries_after_a_conflict(
    redis_url: str, prefix: str, extractor: FeatureExtractor, events: list[Event]
) -> None:
    class Interfering(RedisStateStore):
        """Another writer updates the entity between this store's first read and write."""

        def __init__(self, other: RedisStateStore) -> None:
            super().__init__(redis_url, prefix=prefix)
            self.other = other
            self.interfered = False

        def put_many(self, states: Mapping[str, EntityState | None]) -> None:
            if not self.interfered:
                self.interfered = True
                key = next(iter(states))
                current = self.other.get_many([key])[key] or EntityState()
                current.remember("someone-else")
                current.observe(START)
                self.other.put_many({key: current})
            super().put_many(states)

    with RedisStateStore(redis_url, prefix=prefix) as other:
        with Interfering(other) as store:
            _, duplicate = extractor.process(events[0], store)
            assert not duplicate
            assert store.interfered
        key = extractor.state_keys(events[0])[0]
        state = other.get_many([key])[key]
        assert state is not None
        assert state.count == 2  # the other write and ours: none lost
        assert list(state.event_ids) == ["someone-else", events[0].event_id]


def test_unchecked_store_with_ttl_and_delete_all(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        with RedisStateStore(redis_url, prefix=prefix, checked=False, ttl_seconds=60) as store:
            state = EntityState()
            state.observe(START)
            store.put_many({"a": state, "b": state, "c": None})
            assert 0 < client.pttl(prefix + "a") <= 60_000
            assert store.get_many(["a", "b", "c"]) == {"a": state, "b": state, "c": None}
            assert store.delete_all() == 2
            assert store.get_many(["a"]) == {"a": None}
        with RedisStateStore(redis_url, prefix=prefix, checked=False) as store:
            store.put_many({"a": state})
            assert client.pttl(prefix + "a") == -1
        with RedisStateStore(redis_url, prefix=prefix, ttl_seconds=1) as store:
            store.put_many({"z": state})
            assert 0 < client.pttl(prefix + "z") <= 1000
            assert store.get_many([]) == {}
            store.put_many({})
    finally:
        client.close()


def test_a_missing_redis_server_is_a_clear_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Imported here: pytest loads it as a plugin first (so its asserts get rewritten).
    from fixtures import redis_server as redis_fixture

    monkeypatch.setenv(redis_fixture.ENV_VAR, str(tmp_path / "no-such-binary"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(redis_fixture, "KNOWN_PATHS", ())
    with pytest.raises(redis_fixture.RedisStartError, match="apt-get install redis-server"):
        redis_fixture.find_binary()
