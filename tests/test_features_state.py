"""EntityState: exact serialisation round trips (property-based) and the in-memory store."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudstream.detector.features import (
    TRANSACTION_SCHEMA,
    EntityState,
    FeatureExtractor,
    MemoryStateStore,
    StateFormatError,
)
from fraudstream.events import Event

START = 1_700_000_000.0
EXTRACTOR = FeatureExtractor(TRANSACTION_SCHEMA)

text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
maybe_number = st.one_of(finite, st.integers(-(10**20), 10**20), text, st.none())


@st.composite
def events(draw: st.DrawFn) -> list[Event]:
    """Arbitrary, messy event sequences (any order: online streams can be late)."""
    count = draw(st.integers(1, 40))
    entity = draw(st.sampled_from(["a", "b"]))
    out = []
    for i in range(count):
        variables = {
            "transaction_amt": draw(maybe_number),
            "email_address": draw(st.one_of(text, st.none())),
            "ip_address": draw(st.sampled_from(["1.1.1.1", "2.2.2.2", "", None, "::1"])),
            "user_agent": draw(st.one_of(text, st.none())),
            "product_category": draw(st.one_of(text, st.none())),
            "billing_latitude": draw(maybe_number),
            "billing_longitude": draw(maybe_number),
            "card_bin": draw(st.one_of(st.integers(100000, 999999), text, st.none())),
            "transaction_currency": draw(st.sampled_from(["USD", "eur", None])),
        }
        out.append(Event(f"{draw(text)}-{i}", "customer", entity, draw(times), variables))
    return out


def run(items: list[Event]) -> dict[str, EntityState | None]:
    states: dict[str, EntityState | None] = {}
    for item in items:
        keys = EXTRACTOR.state_keys(item)
        view = {key: states.get(key) for key in keys}
        vector = EXTRACTOR.compute(item, view)
        assert vector.shape == (len(EXTRACTOR.feature_names),)
        assert not any(math.isinf(v) for v in vector.tolist())
        EXTRACTOR.update(item, view)
        states.update(view)
    return states


@settings(max_examples=150, deadline=None)
@given(events())
def test_states_from_any_events_round_trip_exactly(items: list[Event]) -> None:
    for key, state in run(items).items():
        assert state is not None, key
        blob = state.to_bytes()
        again = EntityState.from_bytes(blob)
        assert again == state
        assert again.to_bytes() == blob
        assert again.times == sorted(again.times)


@settings(max_examples=100, deadline=None)
@given(events())
def test_features_after_a_round_trip_are_identical(items: list[Event]) -> None:
    *history, last = items
    states = run(history)
    copied = {
        key: None if state is None else EntityState.from_bytes(state.to_bytes())
        for key, state in states.items()
    }
    keys = EXTRACTOR.state_keys(last)
    direct = EXTRACTOR.compute(last, {k: states.get(k) for k in keys})
    restored = EXTRACTOR.compute(last, {k: copied.get(k) for k in keys})
    assert direct.tobytes() == restored.tobytes()


@given(
    st.builds(
        EntityState,
        count=st.integers(0, 2**53),
        first_seen=finite,
        last_seen=finite,
        event_ids=st.dictionaries(text, st.none(), max_size=5),
        times=st.lists(finite, max_size=5),
        amounts=st.lists(finite, max_size=5),
        probe_times=st.lists(finite, max_size=5),
        seen=st.dictionaries(text, st.dictionaries(text, finite, max_size=3), max_size=3),
        since=st.dictionaries(text, st.dictionaries(text, finite, max_size=3), max_size=3),
        hours=st.lists(st.integers(0, 2**40), max_size=24),
        amount_stats=st.lists(finite, min_size=4, max_size=4),
        categories=st.dictionaries(text, st.lists(finite, min_size=6, max_size=6), max_size=3),
        geo=st.lists(finite, max_size=8),
    )
)
def test_any_state_round_trips(state: EntityState) -> None:
    assert EntityState.from_bytes(state.to_bytes()) == state


def test_a_format_1_state_is_upgraded_on_reading() -> None:
    hours = [0] * 24
    hours[0] = 3
    old = orjson.dumps(
        [1, 3, 100.0, 300.0, ["a", "b", "c"], [100.0, 200.0, 300.0], [5.0, 50.0, 20.0], [],
         {"ip": {"1.1.1.1": 300.0}}, hours, [3.0, 2.5, 1.2], {"travel": [3.0, 3.0, 2.5, 1.2]},
         []]
    )  # fmt: skip
    state = EntityState.from_bytes(old)
    assert state.amount_stats == [3.0, 2.5, 1.2, 50.0]  # largest amount still remembered
    assert state.categories == {"travel": [3.0, 3.0, 2.5, 1.2, 0.0, 0.0]}  # unknown: 0
    assert state.since == {}
    assert EntityState.from_bytes(state.to_bytes()) == state  # written as the current format
    # An IP known from before first-seen times were kept has no known-since (NaN), not 0.
    vector = EXTRACTOR.compute(
        Event("d", "customer", "a", 400.0, {"ip_address": "1.1.1.1", "transaction_amt": 9.0}),
        {"entity:customer:a": state},
    )
    values = dict(zip(EXTRACTOR.feature_names, vector.tolist(), strict=True))
    assert values["entity_new_ip"] == 0.0
    assert math.isnan(values["entity_ip_known_days"])
    assert values["entity_amount_to_max"] == pytest.approx(9.0 / 50.0)


def test_touch_since_keeps_the_earliest_sighting_of_late_events() -> None:
    state = EntityState()
    state.touch_since("ip", "x", 100.0)
    state.touch_since("ip", "x", 50.0)  # late: seen earlier than we knew, last seen unchanged
    state.touch_since("ip", "x", 80.0)
    assert state.since["ip"] == {"x": 50.0}
    assert state.seen["ip"] == {"x": 100.0}


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"not json",
        b"{}",
        b"[2]",
        b"[99, 1]",
        b'[1, "x", 0, 0, [], [], [], [], {}, [], [], {}, []]',
    ],
)
def test_garbage_bytes_are_a_state_format_error(blob: bytes) -> None:
    with pytest.raises(StateFormatError):
        EntityState.from_bytes(blob)


# -- MemoryStateStore ------------------------------------------------------------------


def sample_state(count: int) -> EntityState:
    state = EntityState()
    for i in range(count):
        state.remember(f"id-{i}")
        state.observe(START + i)
    return state


def test_memory_store_without_a_path_keeps_live_objects() -> None:
    store = MemoryStateStore()
    assert store.get_many(["a", "b"]) == {"a": None, "b": None}
    state = sample_state(2)
    store.put_many({"a": state, "b": None})
    assert store.get_many(["a"])["a"] is state
    assert len(store) == 1
    store.flush()
    store.close()
    store.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        store.get_many(["a"])


def test_memory_store_persists_on_flush_and_loads_lazily(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.db"
    with MemoryStateStore(path) as store:
        store.put_many({f"k{i}": sample_state(i + 1) for i in range(1200)})
        assert store.get_many(["missing"]) == {"missing": None}
        store.flush()
        store.put_many({"late": sample_state(3)})  # written by close()
    with MemoryStateStore(path) as store:
        assert len(store) == 0
        found = store.get_many([f"k{i}" for i in range(1200)] + ["late", "missing"])
        assert found["missing"] is None
        assert found["late"] == sample_state(3)
        assert all(found[f"k{i}"] == sample_state(i + 1) for i in range(1200))
        assert len(store) == 1201
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM feature_state").fetchone() == (1201,)
    db.close()


def test_memory_store_state_written_after_a_missing_lookup_is_found(tmp_path: Path) -> None:
    with MemoryStateStore(tmp_path / "s.db") as store:
        assert store.get_many(["x"]) == {"x": None}  # remembered as absent
        store.put_many({"x": sample_state(1)})
        assert store.get_many(["x"])["x"] == sample_state(1)
    with MemoryStateStore(tmp_path / "s.db") as store:
        assert store.get_many(["x"])["x"] == sample_state(1)
