"""What the dashboard needs from whoever serves it: the decision store, users and options.

The store, like the engine, belongs to the caller (``fraudstream api serve`` opens it and
closes it on exit); the dashboard only queries it through the :class:`DecisionStore` API.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from fraudstream.dashboard.lag import PrometheusLag
from fraudstream.dashboard.users import UserDirectory
from fraudstream.detector.defaults import DETECTOR_ID
from fraudstream.sinks import DecisionStore
from fraudstream.sinks.queries import LATENCY_METRICS, LatencyMetric

__all__ = ["LATENCY_LABELS", "PREFIX", "DashboardConfig", "LatencyLabel"]

#: Where the dashboard lives in the API's URL space.
PREFIX: Final = "/dashboard"


@dataclass(frozen=True)
class LatencyLabel:
    """How the page names a latency metric: ``title`` (the headline tile), ``span`` (what is
    measured, the chart's subtitle) and ``field`` (the record's field)."""

    title: str
    span: str
    field: str


LATENCY_LABELS: Final[Mapping[LatencyMetric, LatencyLabel]] = {
    "ttdf": LatencyLabel("Event → decision", "event time → decision", "fd.ttdf"),
    "queue_time": LatencyLabel("Log → decision", "appended to the log → decision", "fd.queue_time"),
    "frauddetector_time": LatencyLabel("Scoring", "scoring", "fd.frauddetector_time"),
    "proc_time": LatencyLabel("Event → scoring", "event time → scoring start", "fd.proc_time"),
}


@dataclass(frozen=True)
class DashboardConfig:
    """``secure_cookies``: set behind HTTPS (the cookie then never travels in clear text).
    ``refresh_seconds``: how often open dashboards poll (queries are shared between them).
    ``latency_metric``: the latency the live page shows: ``ttdf`` (event time -> decision,
    right when event times are real) or ``queue_time`` (appended to the log -> decision, for
    simulated or skewed event times, as in ``fraudstream demo``); see :data:`LATENCY_LABELS`."""

    store: DecisionStore
    users: UserDirectory
    detector_id: str = DETECTOR_ID
    lag: PrometheusLag | None = None
    refresh_seconds: float = 2.0
    secure_cookies: bool = False
    latency_metric: LatencyMetric = "ttdf"
    #: The most stored events one backtest replays (it runs in the API process).
    max_backtest_events: int = 200_000
    secret_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def __post_init__(self) -> None:
        if self.latency_metric not in LATENCY_METRICS:
            raise ValueError(
                f"latency_metric must be one of {list(LATENCY_METRICS)}, "
                f"got {self.latency_metric!r}"
            )
