"""What the dashboard needs from whoever serves it: the decision store, users and options.

The store, like the engine, belongs to the caller (``fraudstream api serve`` opens it and
closes it on exit); the dashboard only queries it through the :class:`DecisionStore` API.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Final

from fraudstream.dashboard.lag import PrometheusLag
from fraudstream.dashboard.users import UserDirectory
from fraudstream.detector.defaults import DETECTOR_ID
from fraudstream.sinks import DecisionStore

__all__ = ["PREFIX", "DashboardConfig"]

#: Where the dashboard lives in the API's URL space.
PREFIX: Final = "/dashboard"


@dataclass(frozen=True)
class DashboardConfig:
    """``secure_cookies``: set behind HTTPS (the cookie then never travels in clear text).
    ``refresh_seconds``: how often open dashboards poll (queries are shared between them)."""

    store: DecisionStore
    users: UserDirectory
    detector_id: str = DETECTOR_ID
    lag: PrometheusLag | None = None
    refresh_seconds: float = 2.0
    secure_cookies: bool = False
    #: The most stored events one backtest replays (it runs in the API process).
    max_backtest_events: int = 200_000
    secret_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
