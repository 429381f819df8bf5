"""The dashboard over HTTP, in process (no browser): login, sessions, CSRF, headers, pages,
the label round trip, drafts, and how ``fraudstream api serve`` sets it up."""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fraudstream.api import Settings, create_app
from fraudstream.dashboard import read_credentials
from fraudstream.dashboard.cli import open_dashboard
from fraudstream.dashboard.config import DashboardConfig
from fraudstream.dashboard.screenshots import running_dashboard
from fraudstream.dashboard.seed import decision_batch, store_events
from fraudstream.detector import Engine
from fraudstream.detector.defaults import DETECTOR_ID, EVENT_TYPE
from fraudstream.sinks import DecisionFilter, DecisionStore
from fraudstream.sinks.queries import LatencyMetric
from fraudstream.sinks.samples import sample_decisions

API_KEY = "fs_dashboard_test_key_0123456789"
LOGIN = "/dashboard/login"


@dataclass
class App:
    client: httpx.Client
    engine: Engine
    store: DecisionStore
    review_id: str
    user: str
    password: str


@pytest.fixture
def app(detector_home: Path) -> Iterator[App]:
    with running_dashboard(detector_home) as running:
        samples = sample_decisions(400, seed=3, end=time.time(), days=2.0, fraud_rate=0.05)
        running.store.write(decision_batch(samples, 0))
        store_events(running.engine, samples, labels=False)
        review = running.store.review_queue(None, limit=1)[0].event_id
        with httpx.Client(base_url=running.url, follow_redirects=False, timeout=30) as client:
            yield App(client, running.engine, running.store, review, running.user, running.password)


def log_in(app: App, user: str | None = None, password: str | None = None) -> httpx.Response:
    client = app.client
    user = app.user if user is None else user
    password = app.password if password is None else password
    page = client.get(LOGIN)
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post(
        LOGIN,
        data={"username": user, "password": password, "login_token": token.group(1)},
    )


def csrf(client: httpx.Client, path: str = "/dashboard/review") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def test_pages_redirect_to_login_and_scripts_get_401(app: App) -> None:
    response = app.client.get("/dashboard/review?order=newest")
    assert response.status_code == 303
    assert response.headers["location"] == f"{LOGIN}?next=/dashboard/review%3Forder%3Dnewest"
    assert (
        app.client.get("/dashboard/live", headers={"X-Fraudstream-Fetch": "1"}).status_code == 401
    )
    assert app.client.get("/").headers["location"] == "/dashboard/"
    assert app.client.get("/dashboard/static/dashboard.js").status_code == 200  # public asset
    login = app.client.get(LOGIN)
    assert login.status_code == 200
    assert "Log in" in login.text


def test_login_sets_a_strict_http_only_session_and_logout_ends_it(app: App) -> None:
    response = log_in(app)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/"
    cookie = response.headers["set-cookie"]
    assert "fs_session=" in cookie
    for flag in ("HttpOnly", "SameSite=strict", "Path=/dashboard"):
        assert flag.lower() in cookie.lower()
    page = app.client.get("/dashboard/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    token = csrf(app.client)
    assert app.client.post("/dashboard/logout").status_code == 403  # no token: refused
    assert app.client.post("/dashboard/logout", data={"csrf_token": token}).status_code == 303
    assert app.client.get("/dashboard/").status_code == 303


def test_login_refusals(app: App) -> None:
    assert log_in(app, password="wrong").status_code == 401
    assert log_in(app, user="mallory").status_code == 401
    # Login CSRF: a form posted without the matching login cookie is refused.
    app.client.cookies.clear()
    forged = app.client.post(
        LOGIN, data={"username": app.user, "password": app.password, "login_token": "x"}
    )
    assert forged.status_code == 400
    # Offsite "next" targets are not followed.
    page = app.client.get(LOGIN, params={"next": "https://evil.example/"})
    assert 'name="next" value="/dashboard/"' in page.text
    for _ in range(4):  # five failures for one user name
        log_in(app, password="wrong")
    assert log_in(app).status_code == 429


def test_label_needs_the_csrf_token_and_lands_on_store_and_event(app: App) -> None:
    log_in(app)
    url = f"/dashboard/decisions/{app.review_id}/label"
    assert app.client.post(url, data={"label": "fraud"}).status_code == 403
    assert app.client.post(url, data={"label": "fraud", "csrf_token": "nope"}).status_code == 403
    token = csrf(app.client)
    cross = app.client.post(
        url,
        data={"label": "fraud", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    as_json = app.client.post(url, json={"label": "fraud", "csrf_token": token})
    assert as_json.status_code == 403
    decision = app.store.get(app.review_id)
    assert decision is not None
    assert decision.label is None
    done = app.client.post(
        url,
        data={"label": "fraud", "csrf_token": token, "note": "card reported stolen"},
        headers={"X-CSRF-Token": token},
    )
    assert done.status_code == 303
    labelled = app.store.get(app.review_id)
    assert labelled is not None
    assert labelled.label is not None
    assert (labelled.label.label, labelled.label.analyst) == ("fraud", app.user)
    assert labelled.label.note == "card reported stolen"
    assert app.engine.events.get_event(EVENT_TYPE, app.review_id).label == "fraud"
    page = app.client.get(done.headers["location"])
    assert "stored event carries the label" in page.text
    assert app.review_id not in app.client.get("/dashboard/review").text


def test_every_page_renders(app: App) -> None:
    log_in(app)
    entity = app.store.recent(None, limit=1)[0].entity_id
    for path in (
        "/dashboard/",
        "/dashboard/?range=7d&outcome=block&currency=USD",
        "/dashboard/live?range=24h",
        f"/dashboard/search?q={entity}&field=entity_id",
        "/dashboard/search?q=gmail&field=email&mode=substring",
        f"/dashboard/decisions/{app.review_id}",
        "/dashboard/review?order=newest",
        "/dashboard/rules",
        "/dashboard/rules/draft",
        "/dashboard/models",
    ):
        response = app.client.get(path)
        assert response.status_code == 200, path
        assert "Traceback" not in response.text
    assert app.client.get("/dashboard/decisions/no-such-event").status_code == 404
    assert app.client.get("/dashboard/backtests/no-such-job").status_code == 404


def _latency_tile(html: str) -> tuple[str, str, str]:
    found = re.search(
        r'data-kpi="latency">\s*<div class="kpi-label">([^<]*)</div>\s*'
        r'<div class="kpi-value">([^<]*)</div>\s*<div class="kpi-sub">([^<]*)</div>',
        html,
    )
    assert found is not None
    label, value, sub = found.groups()
    return label, value, sub


def _ms(value: float | None) -> str:
    assert value is not None
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


@pytest.mark.parametrize(
    ("metric", "title", "span", "field"),
    [
        ("ttdf", "Event → decision", "event time → decision", "fd.ttdf"),
        ("queue_time", "Log → decision", "appended to the log → decision", "fd.queue_time"),
    ],
)
def test_the_latency_setting_decides_what_the_latency_panel_shows(
    detector_home: Path, metric: LatencyMetric, title: str, span: str, field: str
) -> None:
    with running_dashboard(detector_home, latency_metric=metric) as running:
        samples = sample_decisions(300, seed=4, end=time.time(), days=2.0)
        running.store.write(decision_batch(samples, 0))
        client = httpx.Client(base_url=running.url, timeout=30)
        app = App(client, running.engine, running.store, "", running.user, running.password)
        with client:
            log_in(app)
            # 7 days cover every sample: the page's numbers are the whole store's.
            for path in ("/dashboard/?range=7d", "/dashboard/live?range=7d"):
                html = app.client.get(path).text
                label, value, sub = _latency_tile(html)
                (expected,) = running.store.latency(None, None, metric, (50.0, 99.0))
                assert label == title
                assert value == _ms(expected.percentiles[50.0])
                assert sub == f"p50 · p99 {_ms(expected.percentiles[99.0])} · {field}"
                assert f'data-latency-metric="{metric}"' in html
                assert f"({field}) percentiles, ms" in html
                assert f'aria-label="{span} latency percentiles"' in html
                assert f">{title}</th>" in html  # the latest blocked decisions' column
            newest = running.store.recent(DecisionFilter(outcomes=("block",)), limit=1)[0]
            shown = newest.queue_time if metric == "queue_time" else newest.ttdf
            found = app.client.get("/dashboard/search?q=" + newest.event_id).text
            assert f">{title}</th>" in found
            assert f'<td class="num">{_ms(shown)}</td>' in found
        # The two metrics really differ on these samples (queue_time is a part of ttdf).
        (ttdf,) = running.store.latency(None, None, "ttdf", (50.0,))
        (queue,) = running.store.latency(None, None, "queue_time", (50.0,))
        assert _ms(queue.percentiles[50.0]) != _ms(ttdf.percentiles[50.0])


def test_invalid_draft_is_shown_back_and_nothing_is_written(app: App) -> None:
    log_in(app)
    registry = app.engine.registry
    active = registry.active_version(DETECTOR_ID)
    assert active is not None
    token = csrf(app.client)
    before = len(registry.detector_versions(DETECTOR_ID))
    response = app.client.post(
        "/dashboard/rules/draft",
        data={
            "csrf_token": token,
            "detector": DETECTOR_ID,
            "base": active["detectorVersionId"],
            "rule_id": ["block_high_risk", ""],
            "base_version": ["1", ""],
            "expression": ["$fraudstream_model_insightscore >=", ""],
            "outcome": ["block", "approve"],
            "mode": "FIRST_MATCHED",
            "description": "broken",
        },
    )
    assert response.status_code == 400
    assert "field-error" in response.text
    assert len(registry.detector_versions(DETECTOR_ID)) == before
    missing = app.client.post(
        "/dashboard/rules/draft", data={"csrf_token": token, "base": "999", "rule_id": "x"}
    )
    assert missing.status_code == 404  # our error page, not a stack trace
    assert "Not found" in missing.text
    assert "text/html" in missing.headers["content-type"]


def test_dashboard_is_not_in_the_api_schema_and_the_api_still_works(app: App) -> None:
    paths = app.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/dashboard") or p == "/"]
    health = app.client.get("/v1/health")
    assert health.status_code == 200


def test_without_a_dashboard_config_nothing_is_served(detector_home: Path) -> None:
    engine = Engine.open(detector_home)
    try:
        api = create_app(engine, Settings(api_keys=frozenset({API_KEY})))
        assert not [r for r in api.routes if getattr(r, "path", "").startswith("/dashboard")]
    finally:
        engine.close()


def test_serve_set_up_demo_users_and_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FRAUDSTREAM_DASHBOARD_USERS", raising=False)
    monkeypatch.delenv("FRAUDSTREAM_DASHBOARD_USERS_FILE", raising=False)
    assert open_dashboard(tmp_path, "http://127.0.0.1:1", demo=False).config is None
    assert open_dashboard(tmp_path, "x", demo=True, dashboard_enabled=False).config is None
    demo = open_dashboard(tmp_path, "http://127.0.0.1:8080", demo=True)
    try:
        assert demo.config is not None
        login = read_credentials(tmp_path)
        assert login is not None
        assert login.url == "http://127.0.0.1:8080/dashboard/"
        assert stat.S_IMODE(os.stat(tmp_path / "dashboard-credentials").st_mode) == 0o600
        assert demo.config.users.authenticate(login.user, login.password)
    finally:
        demo.close()
    assert demo.config.latency_metric == "ttdf"  # event time is real in production
    monkeypatch.setenv("FRAUDSTREAM_DASHBOARD_USERS", "bob:bob-password")
    configured = open_dashboard(
        tmp_path,
        "http://h",
        demo=False,
        dashboard_metrics_urls=["http://m"],
        dashboard_latency_metric="queue_time",
    )
    try:
        assert configured.config is not None
        assert configured.config.users.names == ["bob"]
        assert configured.config.lag is not None
        assert configured.config.latency_metric == "queue_time"
    finally:
        configured.close()
    with pytest.raises(ValueError, match="latency_metric"):
        DashboardConfig(
            store=configured.config.store,
            users=configured.config.users,
            latency_metric="wall",  # type: ignore[arg-type]
        )


def test_serve_and_demo_pass_the_latency_metric(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fraudstream.api.cli import api as api_command
    from fraudstream.cli.demo import DemoPorts, services
    from fraudstream.cli.demo_setup import DemoSetup

    runner = CliRunner()
    usage = runner.invoke(api_command, ["serve", "--help"])
    assert usage.exit_code == 0
    assert "--latency-metric" in usage.output
    bad = runner.invoke(api_command, ["serve", "--home", str(tmp_path), "--latency-metric", "x"])
    assert bad.exit_code == 2
    (api,) = [
        s for s in services(tmp_path, DemoSetup(), 50.0, DemoPorts(), "secret") if s.name == "api"
    ]
    # The demo's event times are simulated: it shows the pipeline's own latency.
    assert api.args[api.args.index("--latency-metric") + 1] == "queue_time"
