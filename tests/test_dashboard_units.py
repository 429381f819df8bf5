"""The dashboard's parts without a browser or a server: passwords, users, sessions, filters,
charts, lag scraping, drafts and backtests (on the trained default detector)."""

from __future__ import annotations

import dataclasses
import os
import stat
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fraudstream.dashboard import charts
from fraudstream.dashboard.backtest import BacktestJobs, BacktestSpec, run_backtest
from fraudstream.dashboard.credentials import DemoCredentials, read_credentials
from fraudstream.dashboard.filters import ViewFilter, bucket_for
from fraudstream.dashboard.lag import PrometheusLag, parse_lag
from fraudstream.dashboard.passwords import hash_password, is_hash, verify_password
from fraudstream.dashboard.seed import decision_batch, store_events
from fraudstream.dashboard.sessions import LoginThrottle, SessionStore, Signer
from fraudstream.dashboard.svg import nice_ticks, time_ticks
from fraudstream.dashboard.users import UserDirectory, UsersError
from fraudstream.dashboard.usmap import GRID, flagged_color, state_map
from fraudstream.dashboard.versions import (
    DraftError,
    RuleEdit,
    activate,
    create_draft,
    rollback_target,
    score_thresholds,
)
from fraudstream.detector import Engine
from fraudstream.detector.defaults import DETECTOR_ID
from fraudstream.sinks import Group, SQLiteDecisionStore
from fraudstream.sinks.samples import sample_decisions

# -- passwords and users -------------------------------------------------------------------------


def test_password_hash_round_trip_and_tampering() -> None:
    encoded = hash_password("correct horse")
    assert is_hash(encoded)
    assert "correct horse" not in encoded
    assert verify_password("correct horse", encoded)
    assert not verify_password("wrong", encoded)
    assert hash_password("correct horse") != encoded  # salted
    for broken in ("", "scrypt$", encoded.replace("scrypt", "md5"), encoded[:-4] + "AAAA"):
        assert not verify_password("correct horse", broken)


def test_users_from_env_and_file(tmp_path: Path) -> None:
    alice = hash_password("alice-password")
    env = {"FRAUDSTREAM_DASHBOARD_USERS": f"alice:{alice}, bob:plain-demo-pw"}
    users = UserDirectory.load(env=env)
    assert users.names == ["alice", "bob"]
    assert users.authenticate("alice", "alice-password")
    assert users.authenticate("bob", "plain-demo-pw")  # plain text is hashed on load
    assert "plain-demo-pw" not in repr(users)
    assert is_hash(users.hashes["bob"])
    assert not users.authenticate("carol", "anything")
    path = tmp_path / "users.json"
    path.write_text(f'{{"users": {{"carol": "{hash_password("carol-pw")}"}}}}')
    both = UserDirectory.load(env={**env, "FRAUDSTREAM_DASHBOARD_USERS_FILE": str(path)})
    assert both.names == ["alice", "bob", "carol"]
    for bad in ("alice", "al ice:x", "bob:"):
        with pytest.raises(UsersError):
            UserDirectory.parse(bad)
    path.write_text('{"users": ["carol"]}')
    with pytest.raises(UsersError, match="expected"):
        UserDirectory.read(path)


def test_demo_credentials_file_is_private(tmp_path: Path) -> None:
    login = DemoCredentials.generate("http://127.0.0.1:8080/dashboard/")
    path = login.write(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_credentials(tmp_path) == login
    assert login.password not in repr(login)
    assert read_credentials(tmp_path / "nowhere") is None


# -- sessions --------------------------------------------------------------------------------


def test_signed_session_cookies_and_expiry() -> None:
    now = [1000.0]
    store = SessionStore(
        Signer(b"k" * 32), idle_seconds=60, absolute_seconds=300, clock=lambda: now[0]
    )
    session, cookie = store.create("alice")
    assert store.lookup(cookie) is session
    sid, mac = cookie.split(".")
    assert store.lookup(f"{sid}.{mac[:-2]}xx") is None  # forged signature
    assert store.lookup(sid) is None
    assert store.lookup(Signer(b"x" * 32).sign(sid)) is None  # another server's key
    now[0] += 59
    assert store.lookup(cookie) is session  # touched: idle clock restarts
    now[0] += 61
    assert store.lookup(cookie) is None  # idle too long
    session, cookie = store.create("alice")
    for _ in range(6):
        now[0] += 50
        assert store.lookup(cookie) is session
    now[0] += 50
    assert store.lookup(cookie) is None  # absolute lifetime
    session, cookie = store.create("bob")
    store.end(session)
    assert store.lookup(cookie) is None
    assert session.csrf_ok(session.csrf)
    assert not session.csrf_ok("")
    assert not session.csrf_ok(None)


def test_login_throttle_per_user_and_per_client() -> None:
    now = [0.0]
    throttle = LoginThrottle(user_limit=3, client_limit=5, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert not throttle.blocked("Alice", "10.0.0.1")
        throttle.failed("alice", "10.0.0.1")
    assert throttle.blocked("ALICE", "10.0.0.2")  # the name, from anywhere
    assert not throttle.blocked("bob", "10.0.0.2")
    for name in ("bob", "carol"):
        throttle.failed(name, "10.0.0.1")
    assert throttle.blocked("dave", "10.0.0.1")  # the client, whatever the name
    throttle.succeeded("alice")
    assert not throttle.blocked("alice", "10.0.0.3")
    now[0] += 61
    assert not throttle.blocked("dave", "10.0.0.1")


# -- filters and charts ------------------------------------------------------------------------


def test_view_filter_drops_what_it_does_not_know() -> None:
    view = ViewFilter.parse(
        {
            "range": ["15m"],
            "outcome": ["block,review", "evil'); drop"],
            "currency": ["usd", "EURO"],
            "category": ["misc_net"],
            "version": ["2", "x"],
        }
    )
    assert view.outcomes == ("block", "review")
    assert view.currencies == ("USD",)
    assert view.categories == ("misc_net",)
    assert view.versions == ("2",)
    assert ViewFilter.parse({"range": ["forever"]}).range_key == "15m"
    where = view.where(10_000.0)
    assert where.end is not None
    assert where.start == pytest.approx(where.end - 900)
    assert ViewFilter.parse(_query(view.query())) == view
    assert bucket_for(3600) == 60
    assert bucket_for(300) == 5
    assert bucket_for(30 * 86400) == 43200  # 60 buckets of 12 h


def _query(text: str) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    return parse_qs(text)


def _parse_svg(markup: str) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag.endswith("svg")
    return root


def test_charts_are_valid_svg_and_escape_text() -> None:
    t0 = 1_700_000_000.0
    columns = {t0 + 60 * i: {"approve": 10.0 + i, "block": 1.0} for i in range(10)}
    _parse_svg(charts.stacked_columns(t0, t0 + 600, 60, columns, label="x"))
    _parse_svg(charts.stacked_columns(t0, t0 + 600, 60, {}, label="x"))
    series = [charts.Series("p50", [(t0, 1.0), (t0 + 60, None), (t0 + 120, 3.0)], "#000")]
    _parse_svg(charts.line_chart(t0, t0 + 600, series, label="latency", unit=" ms"))
    bars = [charts.Bar("<script>alert(1)</script>", [("block", 3.0)], note="a & b")]
    markup = str(charts.hbars(bars, label="x"))
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    _parse_svg(markup)
    _parse_svg(charts.donut({"approve": 90, "block": 10}, label="x", center="100", sub="d"))
    _parse_svg(charts.donut({}, label="x", center="0", sub="d"))
    _parse_svg(
        charts.score_histogram(
            [(0, 50, {"approve": 100}), (900, 950, {"block": 3})],
            thresholds=[(900, "block"), (700, "review")],
            label="x",
        )
    )
    table = [(float(t), 1 - t / 1000, 1 - (t / 1000) ** 3) for t in range(0, 1001, 100)]
    _parse_svg(charts.roc_curve(table, marks=[(700, "review")], auc=0.9, label="x"))
    _parse_svg(charts.sparkline([1, None, 3], label="x"))
    hist = charts.class_histogram({"fraud": [0, 1, 5], "legit": [9, 2, 0]}, {}, label="x")
    _parse_svg(hist)


def test_state_map_places_every_state_and_colours_by_flagged_share() -> None:
    assert len(GRID) == 51
    assert len(set(GRID.values())) == 51
    groups = [
        Group("CA", 100, 5000.0, 10, 10),
        Group("TX", 10, 100.0, 0, 0),
        Group("ZZ", 3, 1, 0, 0),
    ]
    root = _parse_svg(state_map(groups, label="map"))
    text = ET.tostring(root, encoding="unicode")
    assert "CA: 100 transactions" in text
    assert "+ 3 outside the map" in text
    assert flagged_color(0.0) == "#d7eee1"
    assert flagged_color(0.5) == "#d9443a"
    assert flagged_color(0.2) != flagged_color(0.05)


def test_ticks() -> None:
    assert nice_ticks(0, 97) == [0, 25, 50, 75, 100]
    ticks = time_ticks(1_700_000_000, 1_700_003_600)
    assert all(t % 600 == 0 for t in ticks)
    assert len(ticks) == 6


# -- lag ------------------------------------------------------------------------------------


METRICS = """# HELP fraudstream_consumer_lag Messages behind
# TYPE fraudstream_consumer_lag gauge
fraudstream_consumer_lag 42.0
# TYPE fraudstream_events_in_total counter
fraudstream_events_in_total 1000.0
"""


def test_lag_is_summed_over_processors_and_errors_are_reported() -> None:
    assert parse_lag(METRICS) == 42
    assert parse_lag("") is None
    pages = {"http://a/metrics": METRICS, "http://b/metrics": METRICS}

    def fetch(url: str) -> str:
        if url not in pages:
            raise ValueError("unreachable")
        return pages[url]

    now = [0.0]
    lag = PrometheusLag([*pages, "http://c/metrics"], fetch=fetch, clock=lambda: now[0])
    reading = lag.read()
    assert reading.total == 84
    assert reading.errors == ("http://c/metrics: ValueError",)
    assert lag.read() is reading  # cached within min_interval
    now[0] += 5
    assert lag.read() is not reading
    assert len(lag.history) == 2


# -- drafts and backtests on the trained detector -------------------------------------------------


@pytest.fixture
def engine(detector_home: Path) -> object:
    engine = Engine.open(detector_home)
    yield engine
    engine.close()


def test_draft_validates_before_writing_and_reuses_unchanged_rules(engine: Engine) -> None:
    registry = engine.registry
    active = registry.active_version(DETECTOR_ID)
    assert active is not None
    rules = [registry.rule(DETECTOR_ID, r["ruleId"], r["ruleVersion"]) for r in active["rules"]]
    assert {o for _, o in score_thresholds(rules)} == {"block", "review"}
    edits = [RuleEdit(r["ruleId"], r["expression"], r["outcomes"], r["ruleVersion"]) for r in rules]
    edits[0].expression = "$fraudstream_model_insightscore >="  # syntax error
    edits.append(RuleEdit("new_rule", "$no_such_variable > 1", ["block"]))
    generation = registry.store.generation()
    with pytest.raises(DraftError) as caught:
        create_draft(
            registry,
            DETECTOR_ID,
            edits,
            base=active,
            rule_execution_mode="FIRST_MATCHED",
            description="",
        )
    assert caught.value.edits[0].error
    assert "no_such_variable" in caught.value.edits[-1].error
    assert registry.store.generation() == generation  # nothing written

    edits = [RuleEdit(r["ruleId"], r["expression"], r["outcomes"], r["ruleVersion"]) for r in rules]
    edits[0].expression = "$fraudstream_model_insightscore >= 800"
    doc = create_draft(
        registry,
        DETECTOR_ID,
        edits,
        base=active,
        rule_execution_mode="FIRST_MATCHED",
        description="t",
    )
    assert doc["status"] == "DRAFT"
    assert doc["modelVersions"][0]["modelId"] == "fraudstream_model"
    refs = {r["ruleId"]: r["ruleVersion"] for r in doc["rules"]}
    assert refs[rules[0]["ruleId"]] == "2"  # changed: a new rule version
    assert refs[rules[1]["ruleId"]] == rules[1]["ruleVersion"]  # unchanged: reused

    activate(registry, DETECTOR_ID, doc["detectorVersionId"])
    target = rollback_target(registry, DETECTOR_ID)
    assert target is not None
    assert target["detectorVersionId"] == active["detectorVersionId"]


def test_backtest_compares_a_draft_with_the_active_version(engine: Engine) -> None:
    registry = engine.registry
    active = registry.active_version(DETECTOR_ID)
    assert active is not None
    samples = sample_decisions(600, seed=5, end=time.time(), days=3.0, fraud_rate=0.05)
    store_events(engine, samples, labels=True)
    rules = [registry.rule(DETECTOR_ID, r["ruleId"], r["ruleVersion"]) for r in active["rules"]]
    edits = [RuleEdit(r["ruleId"], r["expression"], r["outcomes"], r["ruleVersion"]) for r in rules]
    edits[0].expression = "$fraudstream_model_insightscore >= 0"  # block everything
    draft = create_draft(
        registry,
        DETECTOR_ID,
        edits,
        base=active,
        rule_execution_mode="FIRST_MATCHED",
        description="",
    )["detectorVersionId"]
    now = time.time()
    spec = BacktestSpec(
        DETECTOR_ID, draft, active["detectorVersionId"], now - 2 * 86400, now + 1, 86400.0
    )
    result = run_backtest(registry, engine.events, spec)
    assert result.events > 0
    assert result.warmup_events > 0
    assert result.events + result.warmup_events == 600
    assert result.draft.outcomes == {"block": result.events}
    assert result.changed == result.events - result.base.outcomes["block"]
    assert result.labelled == result.events
    assert result.draft.block.quality().recall == 1.0
    assert result.moved("block")[0] == result.changed
    assert len(result.changes) <= 25
    # Nothing live changed: no stored predictions, the registry's ACTIVE version is the same.
    assert engine.events.predictions(limit=1) == []
    assert registry.active_version(DETECTOR_ID)["detectorVersionId"] == active["detectorVersionId"]  # type: ignore[index]

    jobs = BacktestJobs(lambda s, progress: run_backtest(registry, engine.events, s, progress))
    job = jobs.submit(spec, "alice")
    deadline = time.monotonic() + 60
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.status == "done"
    assert job.result is not None
    assert job.result.changed == result.changed
    bad = jobs.submit(BacktestSpec(DETECTOR_ID, "99", "1", 0, 1), "alice")
    while not bad.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bad.status == "failed"
    assert "99" in bad.error


def test_seeded_batches_are_idempotent(tmp_path: Path) -> None:
    store = SQLiteDecisionStore.in_home(tmp_path)
    try:
        samples = sample_decisions(50, seed=1, end=time.time(), days=1.0)
        assert store.write(decision_batch(samples, 0)).written == 50
        assert store.write(decision_batch(samples, 0)).written == 0
        assert store.count() == 50
        assert store.totals().labelled == 50
    finally:
        store.close()


def test_live_snapshots_are_shared_and_slow_ones_are_reused_longer(tmp_path: Path) -> None:
    from fraudstream.dashboard.live import LOAD_FACTOR, LiveSource

    store = SQLiteDecisionStore.in_home(tmp_path)
    try:
        store.write(decision_batch(sample_decisions(200, seed=2, end=time.time(), days=1.0), 0))
        now = [0.0]
        live = LiveSource(store, ttl=2.0, clock=lambda: now[0])
        view = ViewFilter(range_key="24h")
        first = live.snapshot(view)
        assert first.totals.count == 200
        assert live.snapshot(view) is first  # within the TTL: no new queries
        now[0] += 2.5
        second = live.snapshot(view)
        assert second is not first
        slow = dataclasses.replace(second, took_ms=1000.0)  # as if its queries took 1 s
        live._cache[view.key] = (now[0], slow)
        now[0] += LOAD_FACTOR - 0.5
        assert live.snapshot(view) is slow
        now[0] += 1.0
        assert live.snapshot(view) is not slow
        assert live.choices().currencies
    finally:
        store.close()
