"""Aggregates of values shared between entities: IP addresses, e-mails and card BINs.

Fraud rings reuse infrastructure: one IP behind many new accounts, one e-mail on several
accounts, a burst of small "does this card work" payments across one BIN range. These keys
keep their event times for 24 hours (at most
:data:`~fraudstream.detector.features.state.LINK_RECENT_CAP`: event counts saturate there on
very hot keys) and their last entities with last-seen times (distinct counts saturate at
``SEEN_CAPS["entity"]``).

Counts include the current entity's own earlier events; a key seen for the first time has
zero counts and NaN age.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from fraudstream.detector.features.block import FeatureBlock
from fraudstream.detector.features.state import (
    DAY,
    HOUR,
    LINK_HORIZON,
    LINK_RECENT_CAP,
    EntityState,
    count_recent,
    count_recent_2,
)
from fraudstream.detector.features.values import NAN
from fraudstream.detector.features.view import EventView


class SharedKeyBlock(FeatureBlock):
    """Common update: event times, and the entities seen with their last time (capped)."""

    __slots__ = ()

    def update(self, view: EventView, state: EntityState) -> None:
        state.add_recent(view.time, None, LINK_HORIZON, LINK_RECENT_CAP)
        state.touch("entity", view.peer, view.time)


def _age_days(state: EntityState, t: float) -> float:
    age = t - state.first_seen
    return (age if age > 0.0 else 0.0) / DAY


class IpBlock(SharedKeyBlock):
    """``ip:<address>``: how many events and distinct entities came from this address."""

    __slots__ = ()

    def __init__(self) -> None:
        self.names = (
            "ip_count_1h",
            "ip_count_24h",
            "ip_distinct_entities_1h",
            "ip_distinct_entities_24h",
            "ip_distinct_entities",
            "ip_days_since_first_seen",
        )

    def key(self, view: EventView) -> str | None:
        return view.ip_key

    def compute(self, view: EventView, state: EntityState | None, out: list[float]) -> None:
        if state is None or state.count == 0:
            out += (0.0, 0.0, 0.0, 0.0, 0.0, NAN)
            return
        t = view.time
        times = state.times
        hi = bisect_right(times, t)
        lo_24h = bisect_left(times, t - DAY, 0, hi)
        lo_1h = bisect_left(times, t - HOUR, lo_24h, hi)
        entities = state.seen["entity"]
        distinct_1h, distinct_24h = count_recent_2(entities, t - HOUR, t - DAY)
        out += (
            float(hi - lo_1h),
            float(hi - lo_24h),
            float(distinct_1h),
            float(distinct_24h),
            float(len(entities)),
            _age_days(state, t),
        )


class EmailBlock(SharedKeyBlock):
    """``email:<address>``: how many entities share this address."""

    __slots__ = ()

    def __init__(self) -> None:
        self.names = (
            "email_count_24h",
            "email_distinct_entities",
            "email_days_since_first_seen",
        )

    def key(self, view: EventView) -> str | None:
        return view.email_key

    def compute(self, view: EventView, state: EntityState | None, out: list[float]) -> None:
        if state is None or state.count == 0:
            out += (0.0, 0.0, NAN)
            return
        t = view.time
        times = state.times
        hi = bisect_right(times, t)
        out += (
            float(hi - bisect_left(times, t - DAY, 0, hi)),
            float(len(state.seen["entity"])),
            _age_days(state, t),
        )


class BinBlock(SharedKeyBlock):
    """``bin:<bin>``: card testing, i.e. bursts of (small) payments across one BIN range."""

    __slots__ = ("_small",)

    def __init__(self, small_amount: float | None) -> None:
        self._small = small_amount
        names = ["bin_count_1h", "bin_count_24h", "bin_distinct_entities_1h"]
        if small_amount is not None:
            names.append("bin_small_amount_count_1h")
        self.names = tuple(names)

    def key(self, view: EventView) -> str | None:
        return view.bin_key

    def compute(self, view: EventView, state: EntityState | None, out: list[float]) -> None:
        small = self._small
        if state is None or state.count == 0:
            out += (0.0, 0.0, 0.0)
            if small is not None:
                out.append(0.0)
            return
        t = view.time
        times = state.times
        hi = bisect_right(times, t)
        lo_24h = bisect_left(times, t - DAY, 0, hi)
        out += (
            float(hi - bisect_left(times, t - HOUR, lo_24h, hi)),
            float(hi - lo_24h),
            float(count_recent(state.seen["entity"], t - HOUR)),
        )
        if small is not None:
            probes = state.probe_times
            end = bisect_right(probes, t)
            out.append(float(end - bisect_left(probes, t - HOUR, 0, end)))

    def update(self, view: EventView, state: EntityState) -> None:
        super().update(view, state)
        small = self._small
        if small is not None and view.amount < small:  # NaN (missing) is not a probe
            state.add_probe(view.time)
