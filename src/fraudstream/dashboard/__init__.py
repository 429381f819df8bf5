"""The live dashboard and analyst console, served by the API process under ``/dashboard``.

Enable it by passing a :class:`DashboardConfig` as ``Settings.dashboard`` to
:func:`fraudstream.api.create_app` (``fraudstream api serve`` does when users are configured
or with ``--demo``). Pages:

* ``/dashboard/`` — live numbers, refreshed every few seconds: throughput, totals, outcome
  split, blocked and reviewed by currency and category, a map by billing state, score
  distribution, latency percentiles, precision and recall against the simulator's truth (or
  analyst labels), consumer lag (scraped from the processors' metrics);
* ``/dashboard/search``, ``/dashboard/decisions/<id>`` — any decision in full, its rules,
  reasons and the customer's recent history; label it;
* ``/dashboard/review`` — decisions in review without a label: mark fraud or legitimate
  (stored on the decision *and* on the stored event, for retraining);
* ``/dashboard/rules`` — the ACTIVE version and its rules; draft edited rules, backtest the
  draft on stored events, activate, roll back;
* ``/dashboard/models`` — training metrics per model version.

Everything needs a login (server-side sessions, CSRF tokens on every POST). Charts are SVG
drawn on the server; the only script is ``static/dashboard.js`` (~100 lines, no library).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from fraudstream.dashboard.config import PREFIX, DashboardConfig
from fraudstream.dashboard.credentials import DemoCredentials, read_credentials
from fraudstream.dashboard.lag import PrometheusLag
from fraudstream.dashboard.users import UserDirectory
from fraudstream.errors import Conflict, FraudstreamError, InvalidInput, NotFound
from fraudstream.sinks import SinkUnavailable

if TYPE_CHECKING:
    from fraudstream.detector import Engine

__all__ = [
    "PREFIX",
    "DashboardConfig",
    "DemoCredentials",
    "PrometheusLag",
    "UserDirectory",
    "install",
    "read_credentials",
]


#: Error pages for our own errors that reach the top of a dashboard route (most are shown
#: in place as messages); checked in this order.
_ERRORS: dict[type[Exception], tuple[int, str]] = {
    SinkUnavailable: (503, "The decision store is unavailable"),
    NotFound: (404, "Not found"),
    InvalidInput: (400, "Invalid request"),
    Conflict: (409, "Conflict"),
}


def install(app: FastAPI, engine: Engine, config: DashboardConfig) -> None:
    """Add the dashboard's routes, static files and error pages to ``app``."""
    from fraudstream.dashboard import (
        auth_routes,
        decision_routes,
        live_routes,
        model_routes,
        rule_routes,
    )
    from fraudstream.dashboard.backtest import BacktestJobs, run_backtest
    from fraudstream.dashboard.live import LiveSource
    from fraudstream.dashboard.render import environment
    from fraudstream.dashboard.sessions import LoginThrottle, SessionStore, Signer
    from fraudstream.dashboard.web import (
        SECURITY_HEADERS,
        CsrfRejected,
        Dashboard,
        LoginRequired,
        login_url,
        redirect,
    )

    templates = environment()
    dash = Dashboard(
        config=config,
        engine=engine,
        sessions=SessionStore(Signer(config.secret_key)),
        throttle=LoginThrottle(),
        live=LiveSource(
            config.store,
            ttl=config.refresh_seconds,
            lag=config.lag,
            latency_metric=config.latency_metric,
        ),
        jobs=BacktestJobs(
            lambda spec, progress: run_backtest(engine.registry, engine.events, spec, progress)
        ),
        templates=templates,
    )
    app.state.dashboard = dash
    for module in (auth_routes, live_routes, decision_routes, rule_routes, model_routes):
        app.include_router(module.router)
    app.include_router(live_routes.root_router)
    static = Path(str(files("fraudstream.dashboard") / "static"))
    app.mount(f"{PREFIX}/static", StaticFiles(directory=static), name="dashboard-static")

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        if exc.fetch or request.method != "GET":
            return Response("login required", status_code=401, headers=SECURITY_HEADERS)
        return redirect(login_url(exc.next_path))

    async def csrf_rejected(request: Request, exc: Exception) -> Response:
        body = templates.get_template("forbidden.html").render(reason=str(exc))
        return HTMLResponse(body, status_code=403, headers=SECURITY_HEADERS)

    async def failed(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(PREFIX):
            raise exc  # not ours: the API's own error handling (a 500) applies
        status, title = 500, "Something went wrong"
        for kind, (code, heading) in _ERRORS.items():
            if isinstance(exc, kind):
                status, title = code, heading
                break
        body = templates.get_template("error.html").render(title=title, message=str(exc))
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(CsrfRejected, csrf_rejected)
    app.add_exception_handler(FraudstreamError, failed)
