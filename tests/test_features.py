"""The feature extractor: online == offline, point-in-time, idempotency, bounded state."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pytest

from fixtures.feature_events import START, make_events
from fraudstream.detector.features import (
    TRANSACTION_SCHEMA,
    EntityState,
    FeatureExtractor,
    FeatureSchema,
    MemoryStateStore,
    build_training_matrix,
    fit_vocabulary,
)
from fraudstream.detector.features.state import (
    ENTITY_RECENT_CAP,
    ID_CAP,
    LINK_RECENT_CAP,
    SEEN_CAPS,
)
from fraudstream.errors import InvalidInput
from fraudstream.events import Event, Transaction

HOUR = 3600.0


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return make_events()


@pytest.fixture(scope="module")
def extractor(events: list[Event]) -> FeatureExtractor:
    return FeatureExtractor(TRANSACTION_SCHEMA, fit_vocabulary(events, TRANSACTION_SCHEMA))


@pytest.fixture(scope="module")
def offline(events: list[Event], extractor: FeatureExtractor) -> np.ndarray:
    return build_training_matrix(events, extractor)


def column(extractor: FeatureExtractor, matrix: np.ndarray, name: str) -> np.ndarray:
    return matrix[:, extractor.feature_names.index(name)]


def features(extractor: FeatureExtractor, vector: np.ndarray) -> dict[str, float]:
    return dict(zip(extractor.feature_names, vector.tolist(), strict=True))


def event(
    event_id: str, entity: str, time: float, **variables: object
) -> Event:  # a transaction with sensible defaults
    values: dict[str, object] = {
        "transaction_amt": 25.0,
        "email_address": f"{entity}@example.com",
        "ip_address": "10.1.1.1",
        "user_agent": "Mozilla/5.0",
        "product_category": "grocery_pos",
        "billing_latitude": 40.71,
        "billing_longitude": -74.0,
        "card_bin": 411111,
        "transaction_currency": "USD",
        "billing_state": "NY",
    }
    values.update(variables)
    return Event(event_id, "customer", entity, time, values)


# -- the central promise ------------------------------------------------------------------


def test_online_with_a_restarted_persisted_store_equals_offline(
    events: list[Event], extractor: FeatureExtractor, offline: np.ndarray, tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    half = len(events) // 2
    rows = []
    with MemoryStateStore(path) as store:
        for item in events[:half]:
            vector, duplicate = extractor.process(item, store)
            assert not duplicate
            rows.append(vector)
    # A new process: nothing in memory, states load lazily from the file.
    config = orjson.loads(orjson.dumps(extractor.to_config()))
    restarted = FeatureExtractor.from_config(config)
    with MemoryStateStore(path) as store:
        assert len(store) == 0
        for item in events[half:]:
            vector, duplicate = restarted.process(item, store)
            assert not duplicate
            rows.append(vector)
    online = np.vstack(rows)
    assert online.shape == offline.shape == (len(events), len(extractor.feature_names))
    assert np.array_equal(online, offline, equal_nan=True)
    # Bit-identical, not merely close: same code, same order of float operations.
    assert online.tobytes() == offline.tobytes()


def test_separate_compute_and_update_calls_match_process(
    events: list[Event], extractor: FeatureExtractor, offline: np.ndarray
) -> None:
    states: dict[str, EntityState | None] = {}
    for index, item in enumerate(events[:120]):
        view = {key: states.get(key) for key in extractor.state_keys(item)}
        vector = extractor.compute(item, view)
        assert extractor.update(item, view)
        states.update(view)
        assert np.array_equal(vector, offline[index], equal_nan=True)


def test_matrix_shape_names_and_dtype(extractor: FeatureExtractor, offline: np.ndarray) -> None:
    names = extractor.feature_names
    assert len(set(names)) == len(names)
    assert offline.dtype == np.float64
    assert offline.shape[1] == len(names)
    assert set(extractor.categorical_features) <= set(names)
    assert not np.isinf(offline).any()
    for expected in (
        "entity_count_1h",
        "entity_amount_sum_24h",
        "entity_amount_zscore",
        "entity_days_since_first_seen",
        "entity_hours_since_last_event",
        "entity_new_ip",
        "entity_new_email",
        "entity_new_device",
        "entity_new_category",
        "entity_category_share",
        "entity_hour_share",
        "entity_km_from_home",
        "ip_distinct_entities_24h",
        "email_distinct_entities",
        "bin_small_amount_count_1h",
        "amount",
        "log_amount",
        "hour_of_day",
        "day_of_week",
        "product_category",
    ):
        assert expected in names


def test_build_training_matrix_rejects_unordered_events(
    events: list[Event], extractor: FeatureExtractor
) -> None:
    with pytest.raises(InvalidInput, match="time order"):
        build_training_matrix([events[-1], events[0]], extractor)


def test_build_training_matrix_of_nothing(extractor: FeatureExtractor) -> None:
    assert build_training_matrix([], extractor).shape == (0, len(extractor.feature_names))


# -- point in time --------------------------------------------------------------------------


def test_first_event_of_an_entity_is_new_with_no_history(extractor: FeatureExtractor) -> None:
    vector = extractor.compute(event("a", "fresh", START), {})
    f = features(extractor, vector)
    for name in (
        "entity_new_ip",
        "entity_new_email",
        "entity_new_device",
        "entity_new_category",
        "entity_new_card_bin",
    ):
        assert f[name] == 1.0, name
    for name in (
        "entity_days_since_first_seen",
        "entity_hours_since_last_event",
        "entity_amount_zscore",
        "entity_hour_share",
        "entity_category_share",
        "entity_km_from_home",
        "entity_km_from_last",
        "ip_days_since_first_seen",
        "email_days_since_first_seen",
    ):
        assert math.isnan(f[name]), name
    for name in ("entity_event_count", "entity_count_24h", "entity_amount_sum_24h"):
        assert f[name] == 0.0, name
    assert f["ip_distinct_entities_24h"] == 0.0
    assert f["amount"] == 25.0
    assert f["log_amount"] == pytest.approx(math.log1p(25.0))


def test_features_of_an_event_ignore_later_events(
    events: list[Event], extractor: FeatureExtractor, offline: np.ndarray
) -> None:
    for k in (0, 17, len(events) // 3, len(events) - 1):
        prefix = build_training_matrix(events[: k + 1], extractor)
        assert np.array_equal(prefix, offline[: k + 1], equal_nan=True)
    # Rewriting the future changes nothing in the past.
    rng = np.random.default_rng(3)
    k = len(events) // 2
    future = [
        Event(
            e.event_id,
            e.entity_type,
            e.entity_id,
            e.event_time,
            {**e.variables, "transaction_amt": float(rng.uniform(1, 9000))},
        )
        for e in events[k:]
    ]
    changed = build_training_matrix([*events[:k], *future], extractor)
    assert np.array_equal(changed[:k], offline[:k], equal_nan=True)
    assert not np.array_equal(changed[k:], offline[k:], equal_nan=True)


def test_an_event_never_sees_itself(extractor: FeatureExtractor) -> None:
    store = MemoryStateStore()
    first, _ = extractor.process(event("a", "solo", START), store)
    second, _ = extractor.process(event("b", "solo", START + 60), store)
    f1, f2 = features(extractor, first), features(extractor, second)
    assert f1["entity_count_1h"] == 0.0
    assert f2["entity_count_1h"] == 1.0
    assert f2["entity_amount_sum_1h"] == 25.0
    assert f2["entity_hours_since_last_event"] == pytest.approx(1 / 60)
    assert f2["entity_new_ip"] == 0.0


def test_late_event_online_does_not_count_later_events(extractor: FeatureExtractor) -> None:
    store = MemoryStateStore()
    extractor.process(event("a", "late", START), store)
    extractor.process(event("b", "late", START + 2 * HOUR), store)
    vector, duplicate = extractor.process(event("c", "late", START + HOUR), store)
    f = features(extractor, vector)
    assert not duplicate
    assert f["entity_count_24h"] == 1.0  # only "a"; "b" is in its future
    assert f["entity_hours_since_last_event"] == pytest.approx(1.0)
    assert f["entity_event_count"] == 2.0  # totals are not windowed: they count arrivals
    state = store.get_many(["entity:customer:late"])["entity:customer:late"]
    assert state is not None
    assert state.times == sorted(state.times)
    assert (state.first_seen, state.last_seen) == (START, START + 2 * HOUR)


# -- idempotency --------------------------------------------------------------------------


def test_replayed_event_is_flagged_and_changes_nothing(
    events: list[Event], extractor: FeatureExtractor
) -> None:
    store = MemoryStateStore()
    for item in events[:200]:
        extractor.process(item, store)
    target = events[150]
    keys = extractor.state_keys(target)
    before = {k: s.to_bytes() for k, s in store.get_many(keys).items() if s is not None}
    _, duplicate = extractor.process(target, store)
    assert duplicate
    after = {k: s.to_bytes() for k, s in store.get_many(keys).items() if s is not None}
    assert after == before
    states = store.get_many(keys)
    assert extractor.update(target, states) is False
    # A redelivered stream prefix leaves the final features as if delivered once.
    replay = MemoryStateStore()
    rows = []
    for item in [*events[:50], *events[40:50], *events[50:80]]:
        vector, duplicate = extractor.process(item, replay)
        if not duplicate:
            rows.append(vector)
    once = build_training_matrix(events[:80], extractor)
    assert np.array_equal(np.vstack(rows), once, equal_nan=True)


def test_duplicate_count_is_bounded_by_the_id_memory(extractor: FeatureExtractor) -> None:
    states: dict[str, EntityState | None] = {}
    first = event("first", "busy", START)
    assert extractor.update(first, states)
    for i in range(ID_CAP - 1):
        assert extractor.update(event(f"e{i}", "busy", START + i + 1), states)
    assert not extractor.update(first, states)  # still remembered
    assert extractor.update(event("one-more", "busy", START + ID_CAP + 1), states)
    assert extractor.update(first, states)  # forgotten: documented bound


# -- bounded memory -----------------------------------------------------------------------


def test_state_of_a_very_busy_entity_stays_small(extractor: FeatureExtractor) -> None:
    store = MemoryStateStore()
    rng = np.random.default_rng(5)
    for i in range(10_000):
        item = event(
            f"busy-{i}",
            "hammer",
            START + 30.0 * i,
            transaction_amt=float(rng.uniform(1, 500)),
            ip_address=f"10.9.{i % 200}.{i % 7}",
            email_address=f"alias{i % 50}@example.com",
            user_agent=f"agent {i % 40}",
            product_category=f"category-{i % 60}",
            card_bin=400000 + i % 30,
            billing_latitude=float(rng.uniform(-60, 60)),
        )
        extractor.process(item, store)
    state = store.get_many(["entity:customer:hammer"])["entity:customer:hammer"]
    assert state is not None
    assert state.count == 10_000
    assert len(state.event_ids) == ID_CAP
    assert len(state.times) == len(state.amounts) <= ENTITY_RECENT_CAP
    assert len(state.categories) <= 32
    for role, values in state.seen.items():
        assert len(values) <= SEEN_CAPS[role]
    assert len(state.hours) == 24
    assert len(state.to_bytes()) < 12_000
    # Every IP here is shared by one entity only, but the busiest BIN/e-mail keys stay small too.
    shared = store.get_many(["bin:400000", "email:alias0@example.com", "ip:10.9.0.0"])
    for key, value in shared.items():
        assert value is not None, key
        assert len(value.times) <= LINK_RECENT_CAP
        assert len(value.to_bytes()) < 12_000


def test_hot_shared_ip_state_stays_small(extractor: FeatureExtractor) -> None:
    store = MemoryStateStore()
    for i in range(10_000):
        extractor.process(
            event(f"nat-{i}", f"user-{i}", START + 5.0 * i, ip_address="1.2.3.4"), store
        )
    state = store.get_many(["ip:1.2.3.4"])["ip:1.2.3.4"]
    assert state is not None
    assert state.count == 10_000
    assert len(state.times) <= LINK_RECENT_CAP
    assert len(state.seen["entity"]) <= SEEN_CAPS["entity"]
    assert len(state.to_bytes()) < 12_000
    vector, _ = extractor.process(
        event("nat-x", "user-x", START + 50_001, ip_address="1.2.3.4"), store
    )
    f = features(extractor, vector)
    # 720 events in the last hour, 10,000 in the day: counts saturate at the caps.
    assert f["ip_count_1h"] == f["ip_count_24h"] == LINK_RECENT_CAP
    assert f["ip_distinct_entities_1h"] == SEEN_CAPS["entity"]


# -- what the aggregates say ---------------------------------------------------------------


def test_takeover_card_testing_and_ring_stand_out(
    events: list[Event], extractor: FeatureExtractor, offline: np.ndarray
) -> None:
    ids = [e.event_id for e in events]
    takeover = offline[ids.index("tx-01001")]
    f = features(extractor, takeover)
    assert f["entity_km_from_home"] > 5000
    assert f["entity_kmh_from_last"] > 1000 or f["entity_hours_since_last_event"] < 1
    assert f["entity_new_device"] == 0.0  # the second takeover event reuses the device
    first = features(extractor, offline[ids.index("tx-01000")])
    assert first["entity_new_ip"] == first["entity_new_device"] == first["entity_new_email"] == 1
    assert first["entity_amount_zscore"] > 2

    last_probe = features(extractor, offline[ids.index("tx-02029")])
    assert last_probe["bin_small_amount_count_1h"] == 29
    assert last_probe["bin_distinct_entities_1h"] == 15
    assert last_probe["ip_distinct_entities_1h"] == 15

    ring = features(extractor, offline[ids.index("tx-03023")])
    assert ring["ip_distinct_entities_1h"] == 12
    assert ring["ip_count_1h"] >= 20


def test_known_window_values(extractor: FeatureExtractor) -> None:
    store = MemoryStateStore()
    amounts = [10.0, 20.0, 30.0, 40.0]
    offsets = [0.0, 2 * 86400.0, 3 * 86400.0 - 600, 3 * 86400.0 - 60]
    for i, (amount, offset) in enumerate(zip(amounts, offsets, strict=True)):
        extractor.process(event(f"k{i}", "k", START + offset, transaction_amt=amount), store)
    vector, _ = extractor.process(
        event("k9", "k", START + 3 * 86400.0, transaction_amt=100.0), store
    )
    f = features(extractor, vector)
    assert f["entity_count_1h"] == 2
    assert f["entity_count_24h"] == 3  # windows include their start: [t - 24h, t]
    assert f["entity_count_7d"] == 4
    assert f["entity_amount_sum_1h"] == 70.0
    assert f["entity_amount_sum_7d"] == 100.0
    assert f["entity_amount_max_7d"] == 40.0
    assert f["entity_amount_to_max_7d"] == 2.5
    assert f["entity_days_since_first_seen"] == 3.0
    assert f["entity_hours_since_last_event"] == pytest.approx(1 / 60)
    assert f["entity_category_share"] == 1.0
    logs = np.log1p(amounts)
    expected = (math.log1p(100.0) - logs.mean()) / logs.std(ddof=1)
    assert f["entity_amount_zscore"] == pytest.approx(expected)
    assert f["entity_km_from_home"] == pytest.approx(0.0, abs=1e-6)


def test_habit_amount_features_against_a_direct_computation(
    extractor: FeatureExtractor,
) -> None:
    """Largest-amount ratios and the shrunk per-category z-score, recomputed from scratch
    for every event of a stream from the events *before* it (never itself, never later)."""
    from fraudstream.detector.features.entity import (
        PRIOR_LOG_STD,
        PRIOR_MEAN_WEIGHT,
        PRIOR_WEIGHT,
    )

    rng = np.random.default_rng(11)
    small = TRANSACTION_SCHEMA.small_amount
    rows = []
    store = MemoryStateStore()
    for i in range(60):
        category = ["food_dining", "travel", "misc_net"][i % 3 if i % 7 else 0]
        amount = float(np.round(rng.choice([2.5, 4.99, rng.lognormal(3.5, 1.0)]), 2))
        e = event(f"h{i}", "habit", START + i * 3 * HOUR, transaction_amt=amount,
                  product_category=category)  # fmt: skip
        vector, _ = extractor.process(e, store)
        rows.append((category, amount, features(extractor, vector)))
    for k, (category, amount, f) in enumerate(rows):
        before = rows[:k]
        x = math.log1p(amount)
        if not before:
            assert math.isnan(f["entity_amount_to_max"])
            assert math.isnan(f["entity_category_amount_zscore"])
            continue
        assert f["entity_amount_to_max"] == pytest.approx(amount / max(a for _, a, _ in before))
        in_category = [a for c, a, _ in before if c == category]
        if in_category:
            assert f["entity_category_amount_to_max"] == pytest.approx(amount / max(in_category))
        else:
            assert math.isnan(f["entity_category_amount_to_max"])
        usual = np.log1p([a for a in in_category if a >= small])
        overall = float(np.mean(np.log1p([a for _, a, _ in before])))
        n = len(usual)
        mean = (usual.sum() + PRIOR_MEAN_WEIGHT * overall) / (n + PRIOR_MEAN_WEIGHT)
        m2 = float(((usual - usual.mean()) ** 2).sum()) if n else 0.0
        std = math.sqrt((m2 + PRIOR_WEIGHT * PRIOR_LOG_STD**2) / (n - 1 + PRIOR_WEIGHT))
        assert f["entity_category_amount_zscore"] == pytest.approx((x - mean) / std), k


def test_hour_category_and_known_since_features(extractor: FeatureExtractor) -> None:
    store = MemoryStateStore()
    day = 86400.0
    base = START - START % day + 10 * HOUR  # 10:00 UTC
    # 9 earlier events: at 09:xx, 10:xx, 11:xx (x2 each), 22:xx (x3), from one IP and device.
    for i, hours in enumerate([9, 10, 11, 9, 10, 11, 22, 22, 22]):
        t = base - 10 * day + i * day + (hours - 10) * HOUR
        extractor.process(event(f"p{i}", "rhythm", t, product_category="grocery_pos"), store)
    # Two purchases in other categories in the last hour; a new IP in the last one.
    now = base + 5 * day
    extractor.process(event("q1", "rhythm", now - 50 * 60, product_category="travel"), store)
    extractor.process(
        event("q2", "rhythm", now - 10 * 60, product_category="home", ip_address="10.9.9.9"),
        store,
    )
    vector, _ = extractor.process(
        event("q3", "rhythm", now, ip_address="10.9.9.9", user_agent="curl/8"), store
    )
    f = features(extractor, vector)
    # 10:00 UTC: 11 earlier events, 6 within an hour of it plus the 2 of the last hour at 09:xx.
    assert f["entity_hour_share_3h"] == pytest.approx((8 + 1) / (11 + 8))
    assert f["entity_distinct_categories_1h"] == 2.0  # travel and home, not grocery_pos
    assert f["entity_ip_known_days"] == pytest.approx(10 * 60 / day)
    assert f["entity_new_device"] == 1.0
    assert f["entity_device_known_days"] == 0.0
    first = base - 10 * day - HOUR  # the first event, at 09:xx
    assert f["entity_email_known_days"] == pytest.approx((now - first) / day)
    # Two hours later nothing was bought in the last hour; back on the usual IP and device.
    later, _ = extractor.process(event("q4", "rhythm", now + 2 * HOUR), store)
    g = features(extractor, later)
    assert g["entity_distinct_categories_1h"] == 0.0
    assert g["entity_ip_known_days"] == pytest.approx((now + 2 * HOUR - first) / day)
    assert g["entity_device_known_days"] == pytest.approx((now + 2 * HOUR - first) / day)


def test_known_since_forgets_evicted_values(extractor: FeatureExtractor) -> None:
    store = MemoryStateStore()
    extractor.process(event("a0", "evict", START, ip_address="10.0.0.1"), store)
    for i in range(SEEN_CAPS["ip"]):  # pushes 10.0.0.1 out of the remembered IPs
        extractor.process(event(f"a{i + 1}", "evict", START + (i + 1) * 60,
                                ip_address=f"10.0.1.{i}"), store)  # fmt: skip
    vector, _ = extractor.process(event("z", "evict", START + HOUR, ip_address="10.0.0.1"), store)
    f = features(extractor, vector)
    assert f["entity_new_ip"] == 1.0
    assert f["entity_ip_known_days"] == 0.0
    state = store.get_many(["entity:customer:evict"])["entity:customer:evict"]
    assert state is not None
    assert set(state.since["ip"]) == set(state.seen["ip"])


def test_strings_and_typed_values_give_identical_features(
    events: list[Event], extractor: FeatureExtractor, offline: np.ndarray
) -> None:
    as_strings = [
        Event(
            e.event_id,
            e.entity_type,
            e.entity_id,
            e.event_time,
            {k: v if v is None else str(v) for k, v in e.variables.items()},
        )
        for e in events
    ]
    assert np.array_equal(build_training_matrix(as_strings, extractor), offline, equal_nan=True)


def test_bad_and_missing_values_are_missing_not_errors(extractor: FeatureExtractor) -> None:
    bad = event(
        "bad",
        "junk",
        START,
        transaction_amt="12,50 EUR",
        billing_latitude="north",
        billing_longitude=500,
        card_bin=None,
        ip_address="  ",
    )
    f = features(extractor, extractor.compute(bad, {}))
    assert math.isnan(f["amount"])
    assert math.isnan(f["log_amount"])
    assert math.isnan(f["entity_new_ip"])
    assert math.isnan(f["card_bin"])
    assert extractor.state_keys(bad) == ["entity:customer:junk", "email:junk@example.com"]
    states: dict[str, EntityState | None] = {}
    assert extractor.update(bad, states)
    state = states["entity:customer:junk"]
    assert state is not None
    assert state.amounts == [0.0]
    assert state.amount_stats == []
    with pytest.raises(InvalidInput, match="event_time"):
        extractor.compute(Event("t", "customer", "x", math.nan, {}), {})


def test_transaction_records_feed_the_extractor(extractor: FeatureExtractor) -> None:
    record = {
        "transaction_amt": "99.5",
        "email_address": "Jane@Example.com",
        "ip_address": "192.168.0.1",
        "transaction_currency": "usd",
        "event_id": "t-1",
        "entity_id": "c-1",
        "event_time": "2024-03-01T12:30:00Z",
        "billing_longitude": -73.9,
        "billing_state": "NY",
        "user_agent": "Mozilla/5.0",
        "billing_street": "1 Main St",
        "billing_city": "New York",
        "card_bin": 411111,
        "customer_name": "Jane Doe",
        "product_category": "grocery_pos",
        "customer_job": "Engineer",
        "phone": "555-0100",
        "billing_latitude": 40.7,
        "billing_zip": "10001",
    }
    item = Transaction.model_validate(record).to_event()
    f = features(extractor, extractor.compute(item, {}))
    assert f["amount"] == 99.5
    assert f["hour_of_day"] == 12
    assert f["day_of_week"] == 4  # a Friday
    assert extractor.state_keys(item) == [
        "entity:customer:c-1",
        "ip:192.168.0.1",
        "email:jane@example.com",
        "bin:411111",
    ]


# -- vocabulary and config ----------------------------------------------------------------


def test_vocabulary_codes_by_frequency_and_unseen_is_nan(events: list[Event]) -> None:
    vocabulary = fit_vocabulary(events, TRANSACTION_SCHEMA, max_values=3)
    assert set(vocabulary) == {
        "email_domain",
        "product_category",
        "transaction_currency",
        "card_bin",
        "billing_state",
    }
    assert vocabulary["transaction_currency"] == {"USD": 0}
    assert all(len(codes) <= 3 for codes in vocabulary.values())
    assert sorted(vocabulary["card_bin"].values()) == list(range(len(vocabulary["card_bin"])))
    extractor = FeatureExtractor(TRANSACTION_SCHEMA, vocabulary)
    f = features(extractor, extractor.compute(event("v", "v", START, card_bin=123456), {}))
    assert math.isnan(f["card_bin"])
    assert f["transaction_currency"] == 0.0
    assert fit_vocabulary(events, TRANSACTION_SCHEMA) == fit_vocabulary(
        list(reversed(events)), TRANSACTION_SCHEMA
    )
    with pytest.raises(InvalidInput):
        fit_vocabulary(events, TRANSACTION_SCHEMA, max_values=0)


def test_config_round_trip_and_checks(extractor: FeatureExtractor) -> None:
    config = orjson.loads(orjson.dumps(extractor.to_config()))
    again = FeatureExtractor.from_config(config)
    assert again.feature_names == extractor.feature_names
    assert again.vocabulary == extractor.vocabulary
    assert again.schema == extractor.schema
    with pytest.raises(InvalidInput, match="version"):
        FeatureExtractor.from_config({**config, "feature_version": 0})
    with pytest.raises(InvalidInput, match="feature_names"):
        FeatureExtractor.from_config({**config, "feature_names": config["feature_names"][:-1]})
    with pytest.raises(InvalidInput, match="unknown feature schema keys"):
        FeatureExtractor.from_config({**config, "schema": {**config["schema"], "amnt": "x"}})
    with pytest.raises(InvalidInput, match="non-categorical"):
        FeatureExtractor(TRANSACTION_SCHEMA, {"amount": {"1": 0}})


def test_raw_variables_must_not_clash_with_feature_names() -> None:
    with pytest.raises(InvalidInput, match="clash"):
        FeatureExtractor(FeatureSchema(amount="price", numeric=("amount",)))


def test_every_feature_is_described(extractor: FeatureExtractor) -> None:
    descriptions = extractor.descriptions()
    assert list(descriptions) == list(extractor.feature_names)
    assert (
        descriptions["billing_state"]
        == "event variable 'billing_state', categorical (vocabulary code)"
    )
    derived = [name for name in descriptions if name not in TRANSACTION_SCHEMA.variables]
    assert all(not descriptions[name].startswith("event variable") for name in derived)
