"""The dashboard in a real headless Chromium against a live server while decisions flow.

Checked as a person would use it: pages need a login; they load without console errors; the
live numbers change on their own while the feed writes decisions; a review verdict clicked in
the queue lands on the decision in the store and on the stored event; a draft with an edited
rule is backtested (the comparison shows) and activated, then rolled back; a POST without the
session's CSRF token is refused.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from fraudstream.detector.defaults import DETECTOR_ID, EVENT_TYPE

if TYPE_CHECKING:
    from fixtures.browser import BrowserPage, LiveDashboard


PAGES = ("/", "/review", "/search", "/rules", "/models", "/rules/draft")


def kpi(page: object, key: str) -> str:
    return str(page.inner_text(f"[data-kpi={key}] .kpi-value"))  # type: ignore[attr-defined]


def test_pages_need_a_login(browser_page: BrowserPage, live_dashboard: LiveDashboard) -> None:
    page = browser_page.page
    page.goto(live_dashboard.base + "/review")
    assert "/dashboard/login" in page.url
    assert page.locator("input[name=password]").is_visible()
    page.fill("input[name=username]", live_dashboard.running.user)
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator(".flash-error").inner_text().startswith("Wrong user name or password")
    page.fill("input[name=username]", live_dashboard.running.user)
    page.fill("input[name=password]", live_dashboard.running.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard/review$"))  # back where it was going
    page.click("button:has-text('Log out')")
    page.wait_for_url(re.compile(r".*/dashboard/login$"))
    page.goto(live_dashboard.base + "/")
    assert "/dashboard/login" in page.url
    # 401 from a failed login is not a page error, but Chromium logs it: leave those out.
    assert [e for e in browser_page.errors if "401" not in e] == []


def test_every_page_loads_without_console_errors(
    browser_page: BrowserPage, live_dashboard: LiveDashboard
) -> None:
    browser_page.log_in(live_dashboard)
    page = browser_page.page
    for path in PAGES:
        response = page.goto(live_dashboard.base + path)
        assert response is not None, path
        assert response.status == 200, path
        assert page.locator("header.topbar").is_visible()
    page.goto(live_dashboard.base + "/models")
    assert page.locator("svg.roc-chart polyline.roc").count() == 1
    assert float(kpi(page, "auc")) > 0.5
    page.goto(live_dashboard.base + "/")
    page.wait_for_timeout(1500)  # at least one background refresh
    assert browser_page.errors == []


def test_live_numbers_change_while_decisions_flow(
    browser_page: BrowserPage, live_dashboard: LiveDashboard
) -> None:
    browser_page.log_in(live_dashboard)
    page = browser_page.page
    page.goto(live_dashboard.base + "/?range=15m")
    first = kpi(page, "count")
    written = live_dashboard.feed.written
    # The feed writes about 10 decisions a second; the page polls every second by itself.
    page.wait_for_function(
        "first => document.querySelector('[data-kpi=count] .kpi-value').textContent.trim()"
        " !== first",
        arg=first,
        timeout=15_000,
    )
    assert live_dashboard.feed.written > written
    assert int(kpi(page, "count").replace(",", "")) > int(first.replace(",", ""))
    assert kpi(page, "rate").endswith("/s")
    assert "updated" in page.inner_text("#live-status")
    for chart in ("svg.map", "svg.chart"):
        assert page.locator(chart).count() >= 1
    # Filters narrow the numbers and keep refreshing.
    page.check("input[name=outcome][value=block]")
    page.wait_for_url(re.compile(r".*outcome=block.*"))
    blocked = kpi(page, "blocked")
    assert kpi(page, "count") == blocked
    assert browser_page.errors == []


def test_review_label_round_trips_to_store_and_event(
    browser_page: BrowserPage, live_dashboard: LiveDashboard
) -> None:
    running = live_dashboard.running
    browser_page.log_in(live_dashboard)
    page = browser_page.page
    page.goto(live_dashboard.base + "/review")
    row = page.locator("tr[data-event-id]").first
    event_id = str(row.get_attribute("data-event-id"))
    before = running.engine.events.get_event(EVENT_TYPE, event_id).label
    verdict = "legit" if before == "fraud" else "fraud"
    row.locator(f"button[name=label][value={verdict}]").click()
    page.wait_for_selector(".flash-ok")
    assert event_id in page.inner_text(".flash-ok")
    assert page.locator(f"tr[data-event-id='{event_id}']").count() == 0  # left the queue
    stored = running.store.get(event_id)
    assert stored is not None
    assert stored.label is not None
    assert stored.label.label == verdict
    assert stored.label.analyst == running.user
    assert running.engine.events.get_event(EVENT_TYPE, event_id).label == verdict
    assert browser_page.errors == []


def test_draft_backtest_activate_and_roll_back(
    browser_page: BrowserPage, live_dashboard: LiveDashboard
) -> None:
    registry = live_dashboard.running.engine.registry
    active_before = registry.active_version(DETECTOR_ID)
    assert active_before is not None
    browser_page.log_in(live_dashboard)
    page = browser_page.page
    page.goto(live_dashboard.base + "/rules")
    assert page.locator("#active .rules-table tbody tr").count() == len(active_before["rules"])
    page.click("text=Draft a change")
    block_rule = page.locator("textarea[data-rule=block_high_risk]")
    block_rule.fill("$fraudstream_model_insightscore >= 700")
    page.fill("input[name=description]", "block from 700")
    page.click("button:has-text('Create draft')")
    page.wait_for_selector(".flash-ok")
    draft = re.search(r"Draft version (\d+) created", page.inner_text(".flash-ok"))
    assert draft is not None
    version = draft.group(1)
    assert registry.detector_version(DETECTOR_ID, version)["status"] == "DRAFT"

    page.select_option("#backtest select[name=version]", version)
    page.fill("#backtest input[name=start]", _input_time(time.time() - 3 * 86400))
    page.click("#backtest button:has-text('Run backtest')")
    page.wait_for_selector("[data-done]", timeout=60_000)
    assert int(kpi(page, "events").replace(",", "")) > 0
    changed = int(kpi(page, "changed").replace(",", ""))
    assert changed > 0  # blocking from 700 instead of the trained threshold moves decisions
    assert page.locator("table.matrix").is_visible()
    assert page.locator("[data-quality]").is_visible()  # seeded events carry labels
    assert browser_page.errors == []

    page.click(f"button:has-text('Activate version {version}')")  # confirm() is accepted
    page.wait_for_selector(".flash-ok")
    assert registry.active_version(DETECTOR_ID)["detectorVersionId"] == version  # type: ignore[index]
    page.click("button:has-text('Roll back to v')")
    page.wait_for_selector(".flash-ok")
    rolled = registry.active_version(DETECTOR_ID)
    assert rolled is not None
    assert rolled["detectorVersionId"] == active_before["detectorVersionId"]
    assert browser_page.errors == []


def test_forged_post_without_csrf_token_is_refused(
    browser_page: BrowserPage, live_dashboard: LiveDashboard
) -> None:
    running = live_dashboard.running
    browser_page.log_in(live_dashboard)
    page = browser_page.page
    page.goto(live_dashboard.base + "/review")
    event_id = str(page.locator("tr[data-event-id]").first.get_attribute("data-event-id"))
    url = f"{live_dashboard.base}/decisions/{event_id}/label"
    # The browser's own cookie jar (a logged-in session), but no token: a forged request.
    forged = page.request.post(url, form={"label": "fraud"}, max_redirects=0)
    assert forged.status == 403
    wrong = page.request.post(
        url, form={"label": "fraud", "csrf_token": "guessed"}, max_redirects=0
    )
    assert wrong.status == 403
    decision = running.store.get(event_id)
    assert decision is not None
    assert decision.label is None
    # The same request from the page's own form works.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    allowed = page.request.post(
        url,
        form={"label": "legit", "csrf_token": str(token)},
        headers={"Origin": running.url},
        max_redirects=0,
    )
    assert allowed.status == 303
    labelled = running.store.get(event_id)
    assert labelled is not None
    assert labelled.label is not None


def _input_time(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M")
