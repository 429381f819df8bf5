"""Screenshots of the dashboard's main pages, taken in a real headless Chromium.

    python -m fraudstream.dashboard.screenshots --out docs/screenshots [--home DIR]

Without ``--home`` it trains a small default detector in a temporary folder (seconds). It
then fills the decision store with a day of realistic decisions (plus the simulator's truth),
stores their events (labelled, for backtests), keeps fresh decisions flowing, drafts a rule
change, serves the API with the dashboard on a free port, logs in and saves one PNG per page.

Needs the dev dependency ``playwright`` (its Python package only: the browser is the
system's Chromium, ``FRAUDSTREAM_CHROMIUM`` or ``/usr/bin/chromium``). The helpers
:func:`running_dashboard`, :func:`seed_demo` and :func:`launch_chromium` are what the
browser tests use too.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from fraudstream.dashboard.config import PREFIX, DashboardConfig
from fraudstream.dashboard.seed import decision_batch, store_events
from fraudstream.dashboard.users import UserDirectory
from fraudstream.detector import Engine
from fraudstream.sinks import DecisionStore, SQLiteDecisionStore
from fraudstream.sinks.queries import LatencyMetric
from fraudstream.sinks.samples import sample_decisions

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

__all__ = [
    "CHROMIUM_FLAGS",
    "RunningDashboard",
    "chromium_path",
    "draft_lower_block",
    "launch_chromium",
    "log_in",
    "running_dashboard",
    "seed_demo",
    "take_screenshots",
]

CHROMIUM_FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
)
VIEWPORT: Final = (1440, 900)


def chromium_path() -> str:
    """The system's Chromium (Playwright cannot download browsers on offline machines)."""
    candidates = [os.environ.get("FRAUDSTREAM_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError(
        "no Chromium found: install Debian's `chromium` (make system-deps) or set "
        "FRAUDSTREAM_CHROMIUM"
    )


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=chromium_path(), args=list(CHROMIUM_FLAGS), headless=True
    )


@dataclass
class RunningDashboard:
    url: str
    user: str
    password: str
    engine: Engine
    store: DecisionStore

    @property
    def dashboard(self) -> str:
        return self.url + PREFIX


@contextmanager
def running_dashboard(
    home: Path, *, refresh_seconds: float = 1.0, latency_metric: LatencyMetric = "ttdf"
) -> Iterator[RunningDashboard]:
    """The API with the dashboard over ``home``, served by uvicorn on a free loopback port."""
    import uvicorn

    from fraudstream.api import Settings, create_app

    user, password = "analyst", secrets.token_urlsafe(12)
    engine = Engine.open(home)
    store = SQLiteDecisionStore.in_home(home)
    config = DashboardConfig(
        store=store,
        users=UserDirectory().with_user(user, password),
        refresh_seconds=refresh_seconds,
        latency_metric=latency_metric,
    )
    settings = Settings(api_keys=frozenset({"fs_" + secrets.token_urlsafe(24)}), dashboard=config)
    app = create_app(engine, settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", ws="none", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.01)
    try:
        yield RunningDashboard(f"http://127.0.0.1:{port}", user, password, engine, store)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        store.close()
        engine.close()


def seed_demo(
    store: DecisionStore, engine: Engine, *, n: int = 4000, seed: int = 11, days: float = 7.0
) -> None:
    """``days`` of decisions ending now (truth included), their events stored with labels."""
    samples = sample_decisions(n, seed=seed, end=time.time() - 5.0, days=days, fraud_rate=0.04)
    store.write(decision_batch(samples, 0))
    store_events(engine, samples, labels=True)


def draft_lower_block(engine: Engine, detector_id: str, block_at: int) -> str:
    """A DRAFT of the active version whose block rule fires at ``block_at``; its id."""
    from fraudstream.dashboard.versions import RuleEdit, create_draft

    registry = engine.registry
    active = registry.active_version(detector_id)
    assert active is not None
    edits = []
    for ref in active["rules"]:
        rule = registry.rule(detector_id, ref["ruleId"], ref["ruleVersion"])
        expression = rule["expression"]
        if rule["outcomes"] == ["block"]:
            expression = expression.rsplit(">=", 1)[0] + f">= {block_at}"
        edits.append(RuleEdit(rule["ruleId"], expression, rule["outcomes"], rule["ruleVersion"]))
    doc = create_draft(
        registry,
        detector_id,
        edits,
        base=active,
        rule_execution_mode=active["ruleExecutionMode"],
        description=f"block at {block_at}",
    )
    return str(doc["detectorVersionId"])


def log_in(page: Any, running: RunningDashboard) -> None:
    page.goto(running.dashboard + "/")
    page.fill("input[name=username]", running.user)
    page.fill("input[name=password]", running.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-kpi=count]")


def take_screenshots(running: RunningDashboard, out: Path, draft: str) -> list[Path]:
    """One full-page PNG per main page in ``out``."""
    from playwright.sync_api import ViewportSize, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        size = ViewportSize(width=VIEWPORT[0], height=VIEWPORT[1])
        page = browser.new_page(viewport=size, device_scale_factor=1)
        page.on("dialog", lambda dialog: dialog.accept())
        log_in(page, running)

        def shot(name: str) -> None:
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)

        page.goto(running.dashboard + "/?range=24h")
        page.wait_for_timeout(2500)  # let the live region refresh once
        shot("dashboard")
        blocked = page.locator("table a.mono").first.get_attribute("href")
        page.goto(running.url + str(blocked))
        shot("decision")
        page.goto(running.dashboard + "/review")
        shot("review-queue")
        page.goto(running.dashboard + "/rules/draft")
        shot("draft")
        page.goto(running.dashboard + "/rules")
        shot("rules")
        page.select_option("select[name=version]", draft)
        page.click("#backtest button[type=submit]")
        page.wait_for_selector("[data-done]", timeout=120_000)
        shot("backtest")
        page.goto(running.dashboard + "/models")
        shot("models")
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--home", type=Path, help="a home with a trained default detector")
    args = parser.parse_args()
    from fraudstream.dashboard.seed import DecisionFeed
    from fraudstream.detector.defaults import DETECTOR_ID

    with tempfile.TemporaryDirectory(prefix="fraudstream-shots-") as tmp:
        home = args.home or _train(Path(tmp))
        with running_dashboard(home) as running:
            seed_demo(running.store, running.engine)
            draft = draft_lower_block(running.engine, DETECTOR_ID, 850)
            feed = DecisionFeed(running.store, batch=6, every=0.5).start()
            try:
                for path in take_screenshots(running, args.out, draft):
                    print(path)
            finally:
                feed.stop()


def _train(root: Path) -> Path:
    """Train the default detector on a small simulated history (a few seconds)."""
    from fraudstream.detector.defaults import install_default_detector
    from fraudstream.simulate import generate_history, write_afd_csv

    history = generate_history(8000, n_customers=200, seed=7, days=30.0, fraud_rate=0.02)
    csv = root / "train.csv"
    write_afd_csv(history, csv)
    home = root / "home"
    engine = Engine.open(home)
    try:
        install_default_detector(engine, csv)
    finally:
        engine.close()
    return home


if __name__ == "__main__":
    main()
