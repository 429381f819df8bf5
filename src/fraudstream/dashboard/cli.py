"""``fraudstream api serve``'s dashboard options and set-up, kept here so the API's command
needs only a decorator and one call (see :func:`open_dashboard`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from fraudstream.cli.output import console
from fraudstream.dashboard.config import PREFIX, DashboardConfig
from fraudstream.dashboard.credentials import DemoCredentials
from fraudstream.dashboard.lag import PrometheusLag
from fraudstream.dashboard.users import ENV_USERS, ENV_USERS_FILE, UserDirectory
from fraudstream.sinks import open_store, redact_url
from fraudstream.sinks.queries import LATENCY_METRICS, LatencyMetric

__all__ = ["Serving", "dashboard_options", "open_dashboard"]

F = TypeVar("F", bound=Callable[..., Any])


def dashboard_options(func: F) -> F:
    """The dashboard's options on a click command (passed as ``dashboard_*`` keywords)."""
    options = [
        click.option(
            "--dashboard/--no-dashboard",
            "dashboard_enabled",
            default=True,
            show_default=True,
            help=f"Serve the dashboard at {PREFIX}/ (needs users: {ENV_USERS}, "
            "--users-file, or --demo).",
        ),
        click.option(
            "--users-file",
            "dashboard_users_file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help=f'Dashboard users: JSON {{"users": {{"name": "scrypt$..."}}}} (or '
            f"{ENV_USERS_FILE}); hash with `python -m fraudstream.dashboard.passwords`.",
        ),
        click.option(
            "--store",
            "dashboard_store",
            default=None,
            help="Decision store the dashboard reads: sqlite[:PATH] or postgres://... "
            "(default: $FRAUDSTREAM_STORE, else HOME/decisions.db).",
        ),
        click.option(
            "--metrics-url",
            "dashboard_metrics_urls",
            multiple=True,
            help="A processor's Prometheus /metrics URL, for consumer lag (repeatable).",
        ),
        click.option(
            "--latency-metric",
            "dashboard_latency_metric",
            type=click.Choice(LATENCY_METRICS),
            default="ttdf",
            show_default=True,
            help="The latency the live page shows: ttdf (event time -> decision; right when "
            "event times are real) or queue_time (appended to the log -> decision; for "
            "simulated or skewed event times, as in `fraudstream demo`).",
        ),
        click.option(
            "--secure-cookies",
            "dashboard_secure_cookies",
            is_flag=True,
            help="Send dashboard cookies over HTTPS only (behind a TLS proxy).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@dataclass
class Serving:
    """The dashboard's configuration for ``Settings.dashboard`` (None: not served)."""

    config: DashboardConfig | None = None

    def close(self) -> None:
        """Close the decision store the dashboard read from."""
        if self.config is not None:
            self.config.store.close()


def open_dashboard(
    home: Path,
    url: str,
    *,
    demo: bool,
    dashboard_enabled: bool = True,
    dashboard_users_file: Path | None = None,
    dashboard_store: str | None = None,
    dashboard_metrics_urls: Sequence[str] = (),
    dashboard_secure_cookies: bool = False,
    dashboard_latency_metric: LatencyMetric = "ttdf",
) -> Serving:
    """Users, store and options from the command line and environment; call ``close()``.

    Demo mode adds a user with a one-time password, prints it and writes it to
    ``HOME/dashboard-credentials`` (0600) for ``fraudstream demo`` and friends.
    """
    if not dashboard_enabled:
        return Serving()
    users = UserDirectory.load(users_file=dashboard_users_file)
    page = f"{url}{PREFIX}/"
    if demo:
        login = DemoCredentials.generate(page)
        users = users.with_user(login.user, login.password)
        path = login.write(home)
        console.print(
            f"[bold yellow]dashboard[/]: {page}\n  user={login.user}\n  password={login.password}"
            f"\n  (one-time, new at every start; also in {path}, mode 0600)",
            highlight=False,
            soft_wrap=True,
        )
    if not users:
        console.print(
            f"dashboard off: no users (set {ENV_USERS}='name:scrypt$...' or --users-file, "
            "or use --demo)",
            highlight=False,
        )
        return Serving()
    store = open_store(dashboard_store, home)
    lag = PrometheusLag(dashboard_metrics_urls) if dashboard_metrics_urls else None
    if not demo:
        console.print(
            f"dashboard: {page} for {', '.join(users.names)} "
            f"(decisions from {redact_url(store.describe())})",
            highlight=False,
        )
    return Serving(
        DashboardConfig(
            store=store,
            users=users,
            lag=lag,
            secure_cookies=dashboard_secure_cookies,
            latency_metric=dashboard_latency_metric,
        )
    )
