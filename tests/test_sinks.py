"""The decision stores (SQLite and a real PostgreSQL server) and the sink consumer.

Every decision must land exactly once across a kill -9 of the sink process, a restart and a
replay from offset 0; a store that is down is retried and nothing is lost; and every query of
the dashboard's API must match numbers computed independently (pandas/numpy) from the same
records. Records are realistic ``processed_transactions`` records built by
:mod:`fraudstream.sinks.samples` (simulator transactions through the processor's builder).
"""

from __future__ import annotations

import math
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from fixtures.postgres_server import PostgresServer, PostgresStartError, running_postgres
from fraudstream.sinks import (
    DecisionFilter,
    DecisionNotFound,
    DecisionStore,
    SinkConsumer,
    SinkInputError,
    SinkSettings,
    build_batch,
    open_store,
)
from fraudstream.sinks import postgres as postgres_store
from fraudstream.sinks import sqlite as sqlite_store
from fraudstream.sinks.records import DecisionRow
from fraudstream.sinks.samples import SampleDecision, produce_samples, sample_decisions
from fraudstream.sinks.sql import DECISION_COLUMNS, decision_params
from fraudstream.stream.topics import Topics, ensure_topics
from fraudstream.stream.transport import Message, Transport, open_transport

WAIT = 60.0
SCORE = "fraudstream_model_insightscore"


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    try:
        with running_postgres(tmp_path_factory.mktemp("pg")) as server:
            yield server
    except PostgresStartError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(params=["sqlite", "postgres"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'decisions.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
def store(store_spec: str, tmp_path: Path) -> Iterator[DecisionStore]:
    with open_store(store_spec, tmp_path) as store:
        yield store


@pytest.fixture
def topics() -> Topics:
    return Topics.prefixed(f"s{uuid.uuid4().hex[:6]}-")


@pytest.fixture
def log_url(tmp_path: Path) -> str:
    # A killed member's partitions are free again after the session timeout.
    return f"embedded:{tmp_path / 'log.db'}?session_timeout=1"


@pytest.fixture
def transport(log_url: str, topics: Topics) -> Iterator[Transport]:
    with open_transport(log_url) as transport:
        ensure_topics(transport, 2, topics)
        yield transport


@pytest.fixture(scope="module")
def samples() -> list[SampleDecision]:
    return sample_decisions(1500, seed=5, fraud_rate=0.1, days=2.0)


def frame(samples: list[SampleDecision]) -> pd.DataFrame:
    """The independent view of the records the store's answers are checked against."""
    rows = []
    for s in samples:
        r = s.record
        rows.append(
            {
                "event_id": r["event_id"],
                "entity_id": r["entity_id"],
                "event_ms": round(pd.Timestamp(r["event_time"]).timestamp() * 1000),
                "outcome": r["fd"]["outcome"],
                "amount": r["transaction_amt"],
                "currency": r["transaction_currency"],
                "category": r["product_category"],
                "email": r["email_address"],
                "ip": r["ip_address"],
                "score": r["fd"]["scores"][SCORE],
                "ttdf": r["fd"]["ttdf"],
                "fd_time": r["fd"]["frauddetector_time"],
                "queue_time": r["fd"]["queue_time"],
                "is_fraud": s.truth.is_fraud,
            }
        )
    return pd.DataFrame(rows)


def messages(samples: list[SampleDecision], topics: Topics) -> list[Message]:
    out = []
    for i, s in enumerate(samples):
        out.append(Message(topics.processed, i % 2, i // 2, s.key, s.value))
        out.append(Message(topics.truth, i % 2, i // 2, s.key, s.truth_value()))
    return out


# --------------------------------------------------------------------------- exactly once


def sink_command(log_url: str, home: Path, spec: str, topics: Topics, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "fraudstream.cli.sink_cmds", "sink",
        "--broker", log_url, "--home", str(home), "--store", spec,
        "--topic-prefix", topics.transactions.removesuffix("transactions"),
        "--batch-size", "100", "--max-delay", "0.2", *extra,
    ]  # fmt: skip


def test_every_decision_lands_exactly_once_across_a_kill_a_restart_and_a_replay(
    tmp_path: Path,
    log_url: str,
    transport: Transport,
    topics: Topics,
    store_spec: str,
    samples: list[SampleDecision],
) -> None:
    with transport.producer() as producer:
        produce_samples(producer, samples, topics)
        # The processor re-emitting a decision it already wrote (at-least-once), and garbage.
        producer.produce(topics.processed, samples[0].value, key=samples[0].key)
        producer.produce(topics.processed, b"not json", key=b"x")
        producer.flush()
    home = tmp_path / "home"
    store = open_store(store_spec, home)
    try:
        with (tmp_path / "sink.log").open("wb") as err:
            first = subprocess.Popen(
                sink_command(log_url, home, store_spec, topics),
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            try:
                deadline = time.monotonic() + WAIT
                while store.count() < 300 and time.monotonic() < deadline:
                    time.sleep(0.02)
            finally:
                first.send_signal(signal.SIGKILL)
                first.wait(10)
            assert 300 <= store.count() < len(samples), "the kill should land mid-run"
            done = subprocess.run(
                sink_command(log_url, home, store_spec, topics, "--until-idle", "3"),
                stdout=subprocess.PIPE,
                stderr=err,
                timeout=120,
                check=True,
            )
        assert b"written" in done.stdout
        assert store.count() == len(samples)
        stored = {d.event_id for d in store.recent(limit=10_000)}
        assert stored == {s.event_id for s in samples}
        assert store.totals().labelled == len(samples)

        # Replay from offset 0 in a new group: nothing new.
        with SinkConsumer(
            transport,
            store,
            SinkSettings(group_id="replay", batch_size=250, max_delay=0.1, poll_timeout=0.05),
            topics=topics,
        ) as replay:
            assert replay.run(idle_timeout=0.5) == 2 * len(samples) + 2
        assert replay.stats.written == 0
        assert replay.stats.duplicates == len(samples) + 1
        assert replay.stats.rejected == 1
        assert store.count() == len(samples)
        original = store.get(samples[0].event_id)
        assert original is not None
        assert original.offset == 0  # the first copy is the one kept
    finally:
        store.close()


# --------------------------------------------------------------------------- a store that is down


def _blocked_sqlite(path: Path, seconds: float) -> threading.Thread:
    """Hold the store's write lock for ``seconds`` from another connection."""
    ready = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        ready.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    ready.wait(5)
    return thread


def _blocked_postgres(url: str, seconds: float) -> threading.Thread:
    """Refuse connections to the store's database and drop the open ones for ``seconds``."""
    import psycopg

    admin_url, _, database = url.rpartition("/")
    admin = psycopg.connect(admin_url + "/postgres", autocommit=True)
    admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
    )

    def restore() -> None:
        time.sleep(seconds)
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        admin.close()

    thread = threading.Thread(target=restore, daemon=True)
    thread.start()
    return thread


def test_a_store_that_is_down_is_retried_and_nothing_is_lost(
    tmp_path: Path, transport: Transport, topics: Topics, store_spec: str
) -> None:
    first, second = sample_decisions(600, seed=8), sample_decisions(600, seed=9)
    if store_spec.startswith("sqlite"):
        from fraudstream.sinks.sqlite import SQLiteDecisionStore

        store: DecisionStore = SQLiteDecisionStore(store_spec.partition(":")[2], busy_timeout=0.1)
    else:
        store = open_store(store_spec, tmp_path)
    settings = SinkSettings(
        batch_size=100, max_delay=0.1, poll_timeout=0.05, retry_initial=0.05, retry_max=0.2
    )
    consumer = SinkConsumer(transport, store, settings, topics=topics)
    runner = threading.Thread(target=consumer.run, daemon=True)
    runner.start()
    try:
        with transport.producer() as producer:
            produce_samples(producer, first, topics)
        deadline = time.monotonic() + WAIT
        while store.count() < len(first) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.count() == len(first)
        if store_spec.startswith("sqlite"):
            outage = _blocked_sqlite(Path(store_spec.partition(":")[2]), 1.5)
        else:
            outage = _blocked_postgres(store_spec, 1.5)
        with transport.producer() as producer:
            produce_samples(producer, second, topics)
        outage.join(10)
        deadline = time.monotonic() + WAIT
        while consumer.stats.written < len(first) + len(second) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        consumer.stop()
        runner.join(10)
        consumer.close()
    assert consumer.stats.retries >= 1
    assert store.count() == len(first) + len(second)
    assert store.totals().labelled == len(first) + len(second)
    store.close()


# --------------------------------------------------------------------------- the query API


@pytest.fixture
def loaded(
    store: DecisionStore, samples: list[SampleDecision], topics: Topics
) -> tuple[DecisionStore, pd.DataFrame]:
    batch = build_batch(messages(samples, topics), [topics.truth])
    result = store.write(batch)
    assert result.written == len(samples)
    assert store.write(batch).duplicates == len(samples)  # idempotent
    return store, frame(samples)


def test_totals_series_and_breakdowns_match_independent_numbers(
    loaded: tuple[DecisionStore, pd.DataFrame],
) -> None:
    store, df = loaded
    totals = store.totals()
    assert totals.count == len(df)
    assert totals.amount == pytest.approx(df.amount.sum())
    for outcome, group in df.groupby("outcome"):
        assert totals.by_outcome[str(outcome)].count == len(group)
        assert totals.by_outcome[str(outcome)].amount == pytest.approx(group.amount.sum())
    assert totals.fraud == int(df.is_fraud.sum())
    assert totals.labelled == len(df)

    df["hour"] = df.event_ms // 3_600_000 * 3_600_000
    expected = df.groupby(["hour", "outcome"]).agg(n=("amount", "size"), a=("amount", "sum"))
    series = store.timeseries(3600)
    assert [(p.start, p.key, p.count) for p in series] == [
        (h / 1000, o, n) for (h, o), n in expected.n.items()
    ]
    assert [p.amount for p in series] == pytest.approx(list(expected.a))
    usd = df[df.currency == "USD"]
    flat = store.timeseries(600, DecisionFilter.of(currencies="usd"), by=None)
    ten = usd.groupby(usd.event_ms // 600_000 * 600_000).size()
    assert [(p.start, p.count) for p in flat] == [(b / 1000, n) for b, n in ten.items()]
    assert {p.key for p in flat} == {None}

    by_currency = store.breakdown("currency")
    counts = df.groupby("currency").agg(
        n=("amount", "size"),
        a=("amount", "sum"),
        b=("outcome", lambda s: int((s == "block").sum())),
        r=("outcome", lambda s: int((s == "review").sum())),
    )
    counts = counts.reset_index().sort_values(["n", "currency"], ascending=[False, True])
    assert [(g.value, g.count, g.blocked, g.reviewed) for g in by_currency] == [
        (row.currency, row.n, row.b, row.r) for row in counts.itertuples()
    ]
    assert [g.amount for g in by_currency] == pytest.approx(list(counts.a))
    top_categories = store.breakdown("category", limit=3)
    cat = df.groupby("category").size().reset_index(name="n")
    cat = cat.sort_values(["n", "category"], ascending=[False, True]).head(3)
    assert [(g.value, g.count) for g in top_categories] == list(
        zip(cat.category, cat.n, strict=True)
    )

    top = store.top_entities(by="amount", limit=5)
    per_entity = df.groupby("entity_id").agg(a=("amount", "sum"), n=("amount", "size"))
    per_entity = per_entity.reset_index().sort_values(["a", "entity_id"], ascending=[False, True])
    assert [e.entity_id for e in top] == list(per_entity.entity_id.head(5))
    assert [e.amount for e in top] == pytest.approx(list(per_entity.a.head(5)))
    most = store.top_entities(by="count", limit=1)[0]
    assert most.count == per_entity.n.max()
    assert most.last_time == df[df.entity_id == most.entity_id].event_ms.max() / 1000

    where = DecisionFilter.of(
        start=df.event_ms.quantile(0.25) / 1000,
        end=df.event_ms.quantile(0.75) / 1000,
        outcomes=["block", "review"],
        categories=["shopping_net", "grocery_pos", "misc_net"],
    )
    lo, hi = where.start, where.end
    assert lo is not None
    assert hi is not None
    mask = (
        (df.event_ms >= round(lo * 1000))
        & (df.event_ms < round(hi * 1000))
        & df.outcome.isin(["block", "review"])
        & df.category.isin(["shopping_net", "grocery_pos", "misc_net"])
    )
    assert store.count(where) == int(mask.sum())
    assert store.totals(where).amount == pytest.approx(df[mask].amount.sum())
    assert store.count(DecisionFilter.of(detector_versions="1")) == len(df)
    assert store.count(DecisionFilter.of(detector_versions="2")) == 0


def test_latency_scores_and_quality_match_independent_numbers(
    loaded: tuple[DecisionStore, pd.DataFrame],
) -> None:
    store, df = loaded
    (overall,) = store.latency(percentiles=(50, 95, 99))
    assert overall.start is None
    assert overall.count == len(df)
    assert overall.mean == pytest.approx(df.ttdf.mean())
    assert overall.maximum == pytest.approx(df.ttdf.max())
    for p in (50, 95, 99):
        assert overall.percentiles[float(p)] == pytest.approx(np.percentile(df.ttdf, p))
    hourly = store.latency(bucket=3600, metric="frauddetector_time", percentiles=(99,))
    df["hour"] = df.event_ms // 3_600_000 * 3_600_000
    expected = df.groupby("hour").fd_time
    assert [p.start for p in hourly] == [h / 1000 for h in expected.groups]
    assert [p.count for p in hourly] == list(expected.size())
    assert [p.percentiles[99.0] for p in hourly] == pytest.approx(
        [np.percentile(v, 99) for _, v in expected]
    )
    assert store.latency(DecisionFilter.of(start=0, end=1)) == []
    # queue_time (log append -> decision) is stored and queried like the others.
    (queue,) = store.latency(metric="queue_time", percentiles=(50, 99))
    assert queue.count == len(df)
    assert queue.mean == pytest.approx(df.queue_time.mean())
    assert queue.maximum == pytest.approx(df.queue_time.max())
    for p in (50, 99):
        assert queue.percentiles[float(p)] == pytest.approx(np.percentile(df.queue_time, p))
    assert queue.percentiles[50.0] != pytest.approx(overall.percentiles[50.0])
    blocked_only = DecisionFilter.of(outcomes="block")
    hourly_queue = store.latency(blocked_only, bucket=3600, metric="queue_time", percentiles=(90,))
    blocks = df[df.outcome == "block"].groupby("hour").queue_time
    assert [(p.start, p.count) for p in hourly_queue] == [
        (h / 1000, n) for h, n in blocks.size().items()
    ]
    assert [p.percentiles[90.0] for p in hourly_queue] == pytest.approx(
        [np.percentile(v, 90) for _, v in blocks]
    )

    bins = store.score_histogram(bin_width=100)
    df["bin"] = (df.score // 100).astype(int)
    per_bin = df.groupby("bin").size()
    assert [(b.low, b.high, b.count) for b in bins] == [
        (i * 100.0, (i + 1) * 100.0, n) for i, n in per_bin.items()
    ]
    top_bin = bins[-1]
    assert top_bin.by_outcome == df[df.bin == df.bin.max()].outcome.value_counts().to_dict()

    blocked = df.outcome == "block"
    q = store.quality()
    assert (q.tp, q.fp, q.fn, q.tn) == (
        int((blocked & df.is_fraud).sum()),
        int((blocked & ~df.is_fraud).sum()),
        int((~blocked & df.is_fraud).sum()),
        int((~blocked & ~df.is_fraud).sum()),
    )
    assert q.precision == pytest.approx((blocked & df.is_fraud).sum() / blocked.sum())
    assert q.recall == pytest.approx((blocked & df.is_fraud).sum() / df.is_fraud.sum())
    flagged = df.outcome.isin(["block", "review"])
    wide = store.quality(positive=("block", "review"))
    assert wide.tp == int((flagged & df.is_fraud).sum())
    series = store.quality_series(6 * 3600)
    assert sum(p.quality.tp for p in series) == q.tp
    assert sum(p.quality.labelled for p in series) == len(df)
    assert store.quality(truth="analyst").labelled == 0


def test_lookups_search_review_queue_and_labels(
    loaded: tuple[DecisionStore, pd.DataFrame], samples: list[SampleDecision]
) -> None:
    store, df = loaded
    sample = samples[123]
    got = store.get(sample.event_id)
    assert got is not None
    assert got.record == sample.record
    assert got.is_fraud == sample.truth.is_fraud
    assert got.label is None
    assert store.get("no-such-event") is None

    entity = df.entity_id.value_counts().index[0]
    history = store.entity_decisions(entity, limit=1000)
    mine = df[df.entity_id == entity].sort_values(
        ["event_ms", "event_id"], ascending=[False, False]
    )
    assert [d.event_id for d in history] == list(mine.event_id)
    page = store.entity_decisions(entity, limit=2)
    older = store.entity_decisions(entity, limit=1000, before=page[-1].event_time)
    assert [d.event_id for d in page + older][: len(mine)] == list(mine.event_id)[
        : len(page) + len(older)
    ]

    recent = store.recent(limit=10)
    newest = df.sort_values(["event_ms", "event_id"], ascending=[False, False]).head(10)
    assert [d.event_id for d in recent] == list(newest.event_id)
    assert [(d.ttdf, d.queue_time) for d in recent] == list(
        zip(newest.ttdf, newest.queue_time, strict=True)
    )

    prefix = sample.event_id[:3]
    found = store.search(prefix, field="event_id", limit=10_000)
    assert {d.event_id for d in found} == set(df[df.event_id.str.startswith(prefix)].event_id)
    domain = "YAHOO"
    found = store.search(domain, field="email", mode="substring", limit=10_000)
    assert len(found) == int(df.email.str.contains("yahoo").sum())
    ip_prefix = sample.record["ip_address"][:5]
    found = store.search(ip_prefix, field="ip", limit=10_000)
    assert {d.event_id for d in found} == set(df[df.ip.str.startswith(ip_prefix)].event_id)
    found = store.search(sample.record["email_address"], limit=10_000)
    assert sample.event_id in {d.event_id for d in found}
    assert all(d.email == sample.record["email_address"] for d in found if d.email)
    odd = store.search("50%_\\", mode="substring")
    assert odd == []  # LIKE wildcards are taken literally

    queue = store.review_queue(limit=10_000)
    reviews = df[df.outcome == "review"].sort_values(["event_ms", "event_id"])
    assert [d.event_id for d in queue] == list(reviews.event_id)
    first = queue[0]
    label = store.set_label(first.event_id, "fraud", analyst="ana", note="called the customer")
    assert label.label == "fraud"
    assert [d.event_id for d in store.review_queue(limit=10_000)] == list(reviews.event_id[1:])
    stored = store.get(first.event_id)
    assert stored is not None
    assert stored.label is not None
    assert (stored.label.label, stored.label.analyst, stored.label.note) == (
        "fraud", "ana", "called the customer",
    )  # fmt: skip
    store.set_label(first.event_id, "legit", analyst="bob")
    analyst = store.quality(positive=("review",), truth="analyst")
    assert (analyst.tp, analyst.fp, analyst.labelled) == (0, 1, 1)
    with pytest.raises(DecisionNotFound):
        store.set_label("no-such-event", "fraud")
    with pytest.raises(SinkInputError):
        store.set_label(first.event_id, "maybe")  # type: ignore[arg-type]
    for bad in (
        lambda: store.timeseries(0),
        lambda: store.breakdown("email"),  # type: ignore[arg-type]
        lambda: store.search(""),
        lambda: store.recent(limit=0),
        lambda: store.latency(percentiles=(101,)),
        lambda: DecisionFilter.of(start=10, end=5),
    ):
        with pytest.raises(SinkInputError):
            bad()
    assert all(isinstance(orjson.dumps(d.to_dict()), bytes) for d in queue[:5])
    assert math.isfinite(store.totals().to_dict()["amount"])


def test_postgres_and_sqlite_answer_identically(
    tmp_path: Path, postgres: PostgresServer, samples: list[SampleDecision], topics: Topics
) -> None:
    batch = build_batch(messages(samples, topics), [topics.truth])
    answers: list[list[Any]] = []
    for spec in (f"sqlite:{tmp_path / 'd.db'}", postgres.create_database()):
        with open_store(spec, tmp_path) as store:
            store.write(batch)
            answers.append(
                [
                    store.totals().to_dict(),
                    [p.to_dict() for p in store.timeseries(1800, by="category")],
                    [g.to_dict() for g in store.breakdown("card_bin", limit=50)],
                    [e.to_dict() for e in store.top_entities(by="blocked")],
                    [b.to_dict() for b in store.score_histogram(bin_width=37.5)],
                    [p.to_dict() for p in store.quality_series(7200)],
                    [d.to_dict() for d in store.search("cust-00001", field="entity_id")],
                ]
            )
    # Sums of amounts may differ in the last bit: the databases add in different orders.
    assert _rounded(answers[0]) == _rounded(answers[1])


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


# --------------------------------------------------------------------------- older schemas


def _create_old_store(spec: str, rows: list[DecisionRow]) -> None:
    """A store as the version before queue_time wrote it: that schema and those columns."""
    columns = [c for c in DECISION_COLUMNS if c != "queue_time"]
    skip = DECISION_COLUMNS.index("queue_time")
    values = [tuple(v for i, v in enumerate(decision_params(r, 1)) if i != skip) for r in rows]
    if spec.startswith("sqlite:"):
        old_schema = sqlite_store.SCHEMA.replace(" queue_time REAL,", "")
        assert old_schema != sqlite_store.SCHEMA
        conn = sqlite3.connect(spec.removeprefix("sqlite:"))
        try:
            conn.executescript(old_schema)
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
            conn.executemany(
                f"INSERT INTO decisions ({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})",
                values,
            )
            conn.commit()
        finally:
            conn.close()
        return
    import psycopg

    old_schema = postgres_store.SCHEMA.replace("\n    queue_time DOUBLE PRECISION,", "")
    assert old_schema != postgres_store.SCHEMA
    with psycopg.connect(spec, autocommit=True) as pg:
        pg.execute(old_schema)
        with pg.cursor() as cur:
            cur.executemany(
                f"INSERT INTO decisions ({', '.join(columns)})"
                f" VALUES ({', '.join('%s' for _ in columns)})",
                values,
            )


def _decision_columns(spec: str) -> list[str]:
    if spec.startswith("sqlite:"):
        conn = sqlite3.connect(spec.removeprefix("sqlite:"))
        try:
            return [str(r[1]) for r in conn.execute("PRAGMA table_info(decisions)")]
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(spec) as pg:
        rows = pg.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'decisions' ORDER BY ordinal_position"
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_a_store_of_an_older_version_is_migrated_in_place_and_keeps_its_rows(
    tmp_path: Path, store_spec: str, samples: list[SampleDecision], topics: Topics
) -> None:
    everything = messages(samples[:80], topics)  # two messages (decision, truth) per sample
    old, new = build_batch(everything[:100], [topics.truth]), build_batch(everything[100:])
    assert len(old.decisions) == 50
    assert len(new.decisions) == 30
    _create_old_store(store_spec, old.decisions)
    assert "queue_time" not in _decision_columns(store_spec)

    with open_store(store_spec, tmp_path) as store:
        assert "queue_time" in _decision_columns(store_spec)
        assert store.count() == 50
        kept = store.get(samples[7].event_id)
        assert kept is not None
        assert kept.record == samples[7].record
        (ttdf,) = store.latency()
        assert ttdf.count == 50
        assert store.latency(metric="queue_time") == []  # unknown for rows stored before
        assert store.write(new).written == 30
        assert store.write(old).duplicates == 50  # identity unchanged by the migration
        (queue,) = store.latency(metric="queue_time", percentiles=(50, 99))
        fresh = [s.record["fd"]["queue_time"] for s in samples[50:80]]
        assert queue.count == 30
        assert queue.percentiles[50.0] == pytest.approx(np.percentile(fresh, 50))
        assert queue.percentiles[99.0] == pytest.approx(np.percentile(fresh, 99))
    # Opening an up-to-date store again changes nothing.
    with open_store(store_spec, tmp_path) as store:
        assert store.count() == 80
        assert _decision_columns(store_spec).count("queue_time") == 1
    if store_spec.startswith("sqlite:"):
        conn = sqlite3.connect(store_spec.removeprefix("sqlite:"))
        try:
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'")
            assert version.fetchone() == (str(sqlite_store.SCHEMA_VERSION),)
        finally:
            conn.close()


def test_store_specs_open_the_right_store_and_never_show_passwords(tmp_path: Path) -> None:
    from fraudstream.sinks import SQLiteDecisionStore, open_sink, redact_url

    with open_store("sqlite", tmp_path) as store:
        assert isinstance(store, SQLiteDecisionStore)
        assert store.describe() == f"sqlite:{tmp_path / 'decisions.db'}"
    with open_store(f"sqlite:///{tmp_path / 'x.db'}", tmp_path) as store:
        assert store.describe().endswith("x.db")
    assert redact_url("postgresql://app:hunter2@db:5432/fraud?sslmode=require&sslpassword=k") == (
        "postgresql://app:***@db:5432/fraud?sslmode=require&sslpassword=***"
    )
    assert redact_url("host=db user=app password='hun ter2' dbname=x") == (
        "host=db user=app password=*** dbname=x"
    )
    for bad in ("mysql://u:hunter2@h/db", "opensearch://u:hunter2@h:9200", "opensearch://h?x=1"):
        with pytest.raises(SinkInputError) as info:
            open_sink(bad, tmp_path)
        assert "hunter2" not in str(info.value)
    sink = open_sink("opensearch://127.0.0.1:9200,127.0.0.2:9200?index=decisions", tmp_path)
    assert (
        sink.describe() == "opensearch http://127.0.0.1:9200,http://127.0.0.2:9200 index decisions"
    )
    sink.close()
