"""fraudstream.simulate: determinism, schema, fraud kinds, separability, live pacing, AFD CSV."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from fraudstream.errors import InvalidInput
from fraudstream.events import PRODUCT_CATEGORIES, TRANSACTION_FIELDS, parse_transaction
from fraudstream.simulate import (
    AFD_COLUMNS,
    DEFAULT_FRAUD_MIX,
    FRAME_COLUMNS,
    Burst,
    FakeClock,
    FraudKind,
    LabelledHistory,
    LiveGenerator,
    Truth,
    build_population,
    generate_history,
    read_afd_csv,
    write_afd_csv,
)
from fraudstream.simulate.geo import haversine_km, us_places

END = datetime(2025, 3, 1, tzinfo=UTC)
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")


@pytest.fixture(scope="module")
def history() -> LabelledHistory:
    return generate_history(20_000, seed=11, fraud_rate=0.01, end=END)


@pytest.fixture(scope="module")
def big_history() -> LabelledHistory:
    """Enough fraud (800 events) for stable single-field statistics."""
    return generate_history(80_000, seed=5, fraud_rate=0.01, end=END)


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC from ranks (ties averaged), folded so that 0.5 is chance either way."""
    ranks = pd.Series(score).rank().to_numpy()
    pos = int(label.sum())
    neg = len(label) - pos
    value = (ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg)
    return float(max(value, 1.0 - value))


def epoch(times: pd.Series) -> np.ndarray:
    return np.asarray(pd.to_datetime(times, utc=True).dt.as_unit("s").astype("int64"))


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_same_history_other_seed_differs() -> None:
    a = generate_history(3_000, seed=3, end=END)
    b = generate_history(3_000, seed=3, end=END)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    c = generate_history(3_000, seed=4, end=END)
    assert not a.frame["event_id"].isin(c.frame["event_id"]).any()
    assert not a.frame["transaction_amt"].equals(c.frame["transaction_amt"])


# --- schema --------------------------------------------------------------------------------


def test_frame_schema_and_order(history: LabelledHistory) -> None:
    frame = history.frame
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert len(history) == 20_000
    assert frame["event_id"].is_unique
    assert frame["event_time"].str.match(ISO_Z).all()
    assert frame["label_time"].str.match(ISO_Z).all()
    t = epoch(frame["event_time"])
    assert (np.diff(t) >= 0).all(), "time-ordered"
    assert t.min() >= END.timestamp() - 182 * 86_400
    assert t.max() < END.timestamp()
    assert (epoch(frame["label_time"]) >= t).all(), "labels come after the event"
    assert set(frame["product_category"]) == set(PRODUCT_CATEGORIES)
    currency = frame["transaction_currency"].value_counts(normalize=True)
    assert currency["USD"] > 0.95
    assert len(currency) > 1
    assert (frame["transaction_amt"] > 0).all()
    assert frame["card_bin"].between(100_000, 99_999_999).all()
    assert frame["card_bin"].nunique() > 20


def test_records_pass_the_transaction_schema(history: LabelledHistory) -> None:
    records = history.records()
    fraud_rows = np.flatnonzero(history.is_fraud)
    sample = sorted({*range(0, len(records), 40), *fraud_rows.tolist()})
    for i in sample:
        record = records[i]
        assert tuple(record) == TRANSACTION_FIELDS
        assert type(record["card_bin"]) is int
        assert type(record["transaction_amt"]) is float
        parsed = parse_transaction(orjson.dumps(record))  # JSON-ready as well as valid
        assert parsed.event_id == record["event_id"]
        assert parsed.ip_address == record["ip_address"], "IPs are canonical"
        assert parsed.email_address == record["email_address"], "e-mails are lower case"


def test_labelled_iteration_matches_frame(history: LabelledHistory) -> None:
    pairs = list(history.iter_labelled(chunk_size=3_000))
    assert len(pairs) == len(history)
    kinds = Counter(t.kind for _, t in pairs if t.is_fraud)
    assert kinds == Counter(FraudKind(k) for k in history.frame["fraud_kind"].dropna())
    assert all(not t.is_fraud and t.kind is None for _, t in pairs[:50] if not t.is_fraud)


def test_population_is_coherent() -> None:
    pop = build_population(300, seed=2)
    places = {(p.city, p.state): p for p in us_places()}
    book = pop.addresses
    for i in range(len(pop)):
        a = pop.home[i]
        place = places[(book.city[a], book.state[a])]  # a real city in its own state
        km = haversine_km(place.latitude, place.longitude, book.latitude[a], book.longitude[a])
        assert km < 25
        assert re.fullmatch(r"\d{5}", book.zip[a])
    assert len(set(pop.emails[pop.email])) == len(pop), "one e-mail per customer"
    assert pop.age.min() >= 18
    assert pop.age.max() <= 92
    with pytest.raises(ValueError, match="read-only"):
        pop.age[0] = 30  # cached and shared: frozen


def test_bad_arguments_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="n_events"):
        generate_history(0)
    with pytest.raises(InvalidInput, match="fraud_rate"):
        generate_history(100, fraud_rate=0.9)
    with pytest.raises(InvalidInput, match="fraud_mix"):
        generate_history(100, fraud_mix={FraudKind.CARD_TESTING: -1.0})
    with pytest.raises(InvalidInput, match="rate_per_s"):
        LiveGenerator(0.0)


# --- fraud ---------------------------------------------------------------------------------


def test_fraud_rate_and_kinds(history: LabelledHistory) -> None:
    frame = history.frame
    assert int(frame["is_fraud"].sum()) == 200
    counts = history.kind_counts()
    assert set(counts) == {k.value for k in FraudKind}
    for kind, share in DEFAULT_FRAUD_MIX.items():
        assert counts[kind.value] == pytest.approx(200 * share, abs=2)
    assert generate_history(2_000, seed=1, fraud_rate=0.0, end=END).kind_counts() == {}
    only = generate_history(
        5_000, seed=1, end=END, fraud_mix={FraudKind.CARD_TESTING: 1.0}, fraud_rate=0.02
    )
    assert only.kind_counts() == {"card_testing": 100}


def test_fraud_kinds_look_like_their_pattern(big_history: LabelledHistory) -> None:
    frame = big_history.frame.assign(t=epoch(big_history.frame["event_time"]))
    kind = frame["fraud_kind"]
    tests = frame[kind == "card_testing"]
    assert (tests["transaction_amt"] < 5).mean() > 0.8, "card tests are tiny"
    spree = frame[kind == "stolen_card_spree"]
    span = spree.groupby("entity_id")["t"].agg(lambda s: s.max() - s.min())
    assert span.median() < 2 * 3600, "a spree takes about an hour"
    # Takeovers: the customer's usual e-mail and home are replaced by a far-away mule's.
    home = frame[~frame["is_fraud"]].groupby("entity_id")[["billing_latitude", "billing_longitude"]]
    usual = home.median().add_suffix("_usual")
    ato = frame[kind == "account_takeover"].join(usual, on="entity_id")
    km = haversine_km(
        ato["billing_latitude"],
        ato["billing_longitude"],
        ato["billing_latitude_usual"],
        ato["billing_longitude_usual"],
    )
    assert np.median(km) > 300
    usual_email = (
        frame[~frame["is_fraud"]]
        .groupby("entity_id")["email_address"]
        .agg(lambda s: s.mode().iloc[0])
    )
    assert (ato["email_address"] != ato["entity_id"].map(usual_email)).mean() > 0.9


def test_no_raw_field_separates_fraud(big_history: LabelledHistory) -> None:
    """Single raw fields stay weak: every AUC below 0.8, however the field is used."""
    frame = big_history.frame
    y = frame["is_fraud"].to_numpy()
    t = epoch(frame["event_time"])
    numeric = {
        name: frame[name].to_numpy(dtype=float)
        for name in ("transaction_amt", "billing_latitude", "billing_longitude", "card_bin")
    }
    numeric["event_time"] = t.astype(float)
    numeric["hour_of_day"] = (t % 86_400 // 3_600).astype(float)
    scores = {f"{name} (raw)": auc(v, y) for name, v in numeric.items()}

    # The best single value of each field used as a yes/no score.
    for name in TRANSACTION_FIELDS:
        if name in ("event_id", "event_time"):
            continue
        g = pd.DataFrame({"v": frame[name].to_numpy(), "y": y}).groupby("v")["y"]
        tpr = g.sum() / y.sum()
        fpr = (g.count() - g.sum()) / (~y).sum()
        scores[f"{name} (best value)"] = 0.5 + float((tpr - fpr).abs().max()) / 2

    # The best any one-field classifier can do: fraud rate per value (numbers in 20 bins)
    # learnt on the first half, scored on the second.
    half = len(frame) // 2
    binned = {name: frame[name] for name in TRANSACTION_FIELDS if name != "event_id"}
    binned["event_time"] = pd.Series(t % 86_400 // 3_600)
    for name in ("transaction_amt", "billing_latitude", "billing_longitude"):
        binned[name] = pd.qcut(frame[name], 20, labels=False, duplicates="drop")
    prior = y[:half].mean()
    for name, values in binned.items():
        v = pd.Series(np.asarray(values))
        g = pd.DataFrame({"v": v[:half], "y": y[:half]}).groupby("v")["y"]
        rate = (g.sum() + 10 * prior) / (g.count() + 10)
        score = v[half:].map(rate).fillna(prior).to_numpy(dtype=float)
        scores[f"{name} (learnt per value)"] = auc(score, y[half:])

    too_good = {k: round(v, 3) for k, v in scores.items() if v >= 0.8}
    assert not too_good, too_good


def test_history_relative_signals_do_separate(big_history: LabelledHistory) -> None:
    """What should work does: velocity, deviation from habit, distance from home."""
    frame = big_history.frame.assign(t=epoch(big_history.frame["event_time"]))
    by = frame.groupby("entity_id", sort=False)
    previous = by["t"].shift()
    frame["gap"] = (frame["t"] - previous).fillna(1e9)
    frame["amount_dev"] = np.log(frame["transaction_amt"]) - by["transaction_amt"].transform(
        lambda s: np.log(s).median()
    )
    lat0, lon0 = (
        by["billing_latitude"].transform("median"),
        by["billing_longitude"].transform("median"),
    )
    frame["km"] = haversine_km(lat0, lon0, frame["billing_latitude"], frame["billing_longitude"])
    legit = ~frame["is_fraud"]

    def kind_auc(kind: str, feature: str, sign: float = 1.0) -> float:
        part = frame[legit | (frame["fraud_kind"] == kind)]
        y = part["is_fraud"].to_numpy()
        ranks = pd.Series(sign * part[feature].to_numpy()).rank().to_numpy()
        pos, neg = y.sum(), len(y) - y.sum()
        return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))

    assert kind_auc("card_testing", "gap", -1) > 0.9
    assert kind_auc("stolen_card_spree", "gap", -1) > 0.85
    assert kind_auc("amount_anomaly", "amount_dev") > 0.9
    assert kind_auc("account_takeover", "km") > 0.9


# --- live ----------------------------------------------------------------------------------


def _live(
    clock: FakeClock,
    *,
    rate_per_s: float,
    burst: Burst | None = None,
    fraud_rate: float = 0.008,
    limit: int | None = None,
    time_scale: float = 1.0,
) -> LiveGenerator:
    return LiveGenerator(
        rate_per_s,
        burst=burst,
        seed=4,
        n_customers=300,
        fraud_rate=fraud_rate,
        clock=clock.time,
        sleep=clock.sleep,
        limit=limit,
        time_scale=time_scale,
    )


def test_live_records_carry_no_label_and_are_valid() -> None:
    clock = FakeClock()
    truths: dict[str, Truth] = {}
    gen = _live(clock, rate_per_s=20.0, fraud_rate=0.3, limit=20_000)
    records = list(gen.records(truth=lambda event_id, t: truths.__setitem__(event_id, t)))
    assert len(records) == 20_000 == len(truths)
    labels = {k.value for k in FraudKind} | {"fraud", "legit", "is_fraud", "fraud_kind"}
    for record in records[::25]:
        assert tuple(record) == TRANSACTION_FIELDS
        assert not labels & {str(v) for v in record.values()}
        parse_transaction(record)
    fraud = [t.kind for t in truths.values() if t.is_fraud]
    assert 0.1 < len(fraud) / len(records) < 0.4
    assert len(set(fraud)) >= 3, Counter(fraud)
    for record in records:
        if truths[record["event_id"]].is_fraud:
            parse_transaction(record)
    times = [r["event_time"] for r in records]
    assert times == sorted(times)


def test_live_is_deterministic_for_a_seed() -> None:
    def first(n: int) -> list[tuple[dict[str, object], Truth]]:
        return list(_live(FakeClock(), rate_per_s=50.0, fraud_rate=0.1, limit=n))

    assert first(2_000) == first(2_000)


def test_live_pacing_follows_the_fake_clock() -> None:
    clock = FakeClock()
    start = clock.now
    gen = _live(clock, rate_per_s=50.0)
    count = 0
    for _ in gen:
        count += 1
        if clock.now - start >= 120.0:
            break
    expected = 50.0 * 120.0
    assert abs(count - expected) < 5 * math.sqrt(expected)
    assert clock.slept == pytest.approx(clock.now - start)

    # A consumer that stalls does not get the backlog in one flood.
    clock.advance(3_600.0)
    record, _ = next(gen)
    assert parse_transaction(record).event_time.timestamp() == pytest.approx(clock.now, abs=1.0)


def test_live_bursts_multiply_the_rate() -> None:
    clock = FakeClock()
    start = clock.now
    gen = _live(clock, rate_per_s=20.0, burst=Burst(every_s=20.0, duration_s=2.0, factor=10.0))
    stamps = []
    for _ in gen:
        stamps.append(clock.now)
        if clock.now - start >= 400.0:
            break
    windows = [w for w in gen.burst_windows if w[1] <= stamps[-1]]
    assert len(windows) >= 8
    t = np.array(stamps)
    inside = np.zeros(len(t), dtype=bool)
    for lo, hi in windows:
        inside |= (t >= lo) & (t < hi)
    burst_time = sum(hi - lo for lo, hi in windows)
    burst_rate = inside.sum() / burst_time
    calm_rate = (~inside).sum() / (t[-1] - start - burst_time)
    assert 6.0 < burst_rate / calm_rate < 15.0
    assert calm_rate == pytest.approx(20.0, rel=0.15)


def test_live_continues_the_history_customers_at_their_pace(history: LabelledHistory) -> None:
    clock = FakeClock()
    gen = LiveGenerator(
        50.0,
        population=history.population,
        burst=None,
        limit=3_000,
        seed=1,
        clock=clock.time,
        sleep=clock.sleep,
        time_scale="natural",
        start=END,
    )
    records = [record for record, _ in gen]
    assert {r["entity_id"] for r in records} <= set(history.frame["entity_id"])
    times = epoch(pd.Series([r["event_time"] for r in records]))
    assert times[0] == END.timestamp(), "picks up where the history ended"
    # "natural" time: the customers buy as often as their habits say, not 50 times a second.
    assert history.population is not None
    per_day = history.population.habits.daily_rate.sum()
    observed = len(records) / ((times[-1] - times[0]) / 86_400)
    assert observed == pytest.approx(per_day, rel=0.1)
    assert gen.time_scale == pytest.approx(50.0 * 86_400 / per_day)


# --- AFD CSV -------------------------------------------------------------------------------


def test_afd_csv_round_trip(history: LabelledHistory, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    write_afd_csv(history, path)
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == list(AFD_COLUMNS)
    assert header.startswith(
        "EVENT_ID,EVENT_TIMESTAMP,ENTITY_ID,ENTITY_TYPE,EVENT_LABEL,LABEL_TIMESTAMP,"
    )
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert raw["EVENT_TIMESTAMP"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert set(raw["EVENT_LABEL"]) == {"fraud", "legit"}
    assert set(raw["ENTITY_TYPE"]) == {"customer"}

    back = read_afd_csv(path, validate_rows=True)
    pd.testing.assert_frame_equal(
        back.frame.drop(columns="fraud_kind"), history.frame.drop(columns="fraud_kind")
    )
    assert back.frame["fraud_kind"].isna().all(), "AFD's format has no fraud kind"
    truths = [t for _, t in back.iter_labelled()]
    assert sum(t.is_fraud for t in truths) == 200
    assert all(t.kind is None for t in truths)


def test_afd_csv_missing_column_is_named(history: LabelledHistory, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    write_afd_csv(history.frame.head(50), path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.drop(columns=["LABEL_TIMESTAMP", "billing_zip"]).to_csv(path, index=False)
    with pytest.raises(InvalidInput, match=r"missing column.*LABEL_TIMESTAMP, billing_zip") as err:
        read_afd_csv(path)
    assert ("LABEL_TIMESTAMP", "missing column") in err.value.problems


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("EVENT_LABEL", "maybe", "line 5: EVENT_LABEL must be 'fraud' or 'legit'"),
        ("EVENT_TIMESTAMP", "yesterday", "line 5: EVENT_TIMESTAMP is not an ISO 8601"),
        ("transaction_amt", "lots", "line 5: transaction_amt is not a number"),
        ("ENTITY_TYPE", "merchant", "line 5: ENTITY_TYPE must be 'customer'"),
        ("EVENT_ID", "", "line 5: EVENT_ID is empty"),
    ],
)
def test_afd_csv_bad_row_is_named(
    history: LabelledHistory, tmp_path: Path, column: str, value: str, message: str
) -> None:
    path = tmp_path / "events.csv"
    write_afd_csv(history.frame.head(20), path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[3, column] = value  # data row 4 is line 5 (the header is line 1)
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInput, match=re.escape(message)):
        read_afd_csv(path)


def test_afd_csv_row_validation_is_optional(history: LabelledHistory, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    write_afd_csv(history.frame.head(20), path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "email_address"] = "not-an-email"
    frame.to_csv(path, index=False)
    assert len(read_afd_csv(path)) == 20
    with pytest.raises(InvalidInput, match="line 2: invalid transaction: email_address"):
        read_afd_csv(path, validate_rows=True)


def test_afd_csv_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InvalidInput, match="empty file"):
        read_afd_csv(path)


def test_scaled_live_time_keeps_customers_as_busy_through_bursts() -> None:
    """A burst is a faster replay when simulated time is scaled: the same number of events
    spans the same simulated time with or without bursts (denser per-customer traffic would
    look like fraud to a model trained on the history)."""

    def simulated_span(burst: Burst | None) -> float:
        clock = FakeClock()
        gen = _live(clock, rate_per_s=20.0, burst=burst, time_scale=3_000.0, limit=6_000)
        times = [parse_transaction(r).event_time.timestamp() for r, _ in gen]
        return times[-1] - times[0]

    steady = simulated_span(None)
    bursty = simulated_span(Burst(every_s=20.0, duration_s=5.0, factor=10.0))
    assert bursty == pytest.approx(steady, rel=0.1)
