"""Entity aggregates: how this event compares with the entity's own history.

What AFD's Transaction Fraud Insights calls "aggregates data on entities" (account age, time
since last activity, activity counts, spending patterns), plus novelty flags (first time this
IP / e-mail / device / card / category for the entity) and location (distance from the
entity's usual place, implied travel speed since its last located event).

Conventions for an entity seen for the first time: counts and sums are 0 (nothing happened
before, which is a fact), everything relative to history is NaN, ``new_*`` flags are 1.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

from fraudstream.detector.features.block import FeatureBlock
from fraudstream.detector.features.geo import km_between_vectors
from fraudstream.detector.features.schema import FeatureSchema
from fraudstream.detector.features.state import (
    CATEGORY_CAP,
    DAY,
    ENTITY_HORIZON,
    ENTITY_RECENT_CAP,
    HOUR,
    MINUTE,
    EntityState,
    count_recent,
)
from fraudstream.detector.features.values import NAN
from fraudstream.detector.features.view import EventView

#: Floor of the standard deviation of log amounts in z-scores: a customer whose payments
#: were all identical would otherwise turn a one-cent difference into an infinite z-score.
MIN_LOG_STD = 0.1
WEEK = 7 * DAY

#: (role, plural used in feature names, the FeatureSchema field providing it), in the order
#: of ``EventView.identities``.
_IDENTITY_ROLES: tuple[tuple[str, str, str], ...] = (
    ("ip", "ips", "ip"),
    ("email", "emails", "email"),
    ("device", "devices", "user_agent"),
    ("card_bin", "card_bins", "card_bin"),
    ("currency", "currencies", "currency"),
)
_MIN_HOURS = MINUTE / HOUR  # speeds over shorter gaps are measurement noise, not travel


def _zscore(x: float, n: float, mean: float, m2: float) -> float:
    if n < 2.0 or x != x:
        return NAN
    std = math.sqrt(m2 / (n - 1.0))
    return (x - mean) / (std if std > MIN_LOG_STD else MIN_LOG_STD)


class EntityBlock(FeatureBlock):
    """Aggregates kept under ``entity:<type>:<id>``."""

    __slots__ = ("_amount", "_category", "_geo", "_roles")

    def __init__(self, schema: FeatureSchema) -> None:
        self._amount = schema.amount is not None
        self._category = schema.category is not None
        self._geo = schema.latitude is not None
        self._roles = tuple(
            (role, index)
            for index, (role, _, field) in enumerate(_IDENTITY_ROLES)
            if getattr(schema, field) is not None
        )
        names = [
            "entity_event_count",
            "entity_days_since_first_seen",
            "entity_hours_since_last_event",
            "entity_count_1h",
            "entity_count_24h",
            "entity_count_7d",
            "entity_hour_share",
        ]
        if self._amount:
            names += [
                "entity_amount_sum_1h",
                "entity_amount_sum_24h",
                "entity_amount_sum_7d",
                "entity_amount_max_7d",
                "entity_amount_to_max_7d",
                "entity_amount_zscore",
            ]
        if self._category:
            names += ["entity_new_category", "entity_category_share"]
            if self._amount:
                names.append("entity_category_amount_zscore")
        plural = {role: many for role, many, _ in _IDENTITY_ROLES}
        for role, _ in self._roles:
            names += [f"entity_new_{role}", f"entity_distinct_{plural[role]}_7d"]
        if self._geo:
            names += ["entity_km_from_home", "entity_km_from_last", "entity_kmh_from_last"]
        self.names = tuple(names)

    def key(self, view: EventView) -> str:
        return view.entity_key

    def compute(self, view: EventView, state: EntityState | None, out: list[float]) -> None:
        t = view.time
        if state is None or state.count == 0:
            self._first(view, out)
            return
        count = state.count
        times = state.times
        hi = bisect_right(times, t)
        lo_1h = bisect_left(times, t - HOUR, 0, hi)
        lo_24h = bisect_left(times, t - DAY, 0, lo_1h)
        lo_7d = bisect_left(times, t - ENTITY_HORIZON, 0, lo_24h)
        # The latest earlier event (a late event must not look at later ones).
        previous = times[hi - 1] if hi else (state.last_seen if state.last_seen <= t else NAN)
        since_first = t - state.first_seen
        hours = state.hours
        out += (
            float(count),
            (since_first if since_first > 0.0 else 0.0) / DAY,
            (t - previous) / HOUR,
            float(hi - lo_1h),
            float(hi - lo_24h),
            float(hi - lo_7d),
            hours[view.hour] / count if hours else NAN,
        )

        if self._amount:
            amounts = state.amounts
            # Nested windows: each stored amount is added once.
            sum_1h = sum(amounts[lo_1h:hi])
            sum_24h = sum_1h + sum(amounts[lo_24h:lo_1h])
            sum_7d = sum_24h + sum(amounts[lo_7d:lo_24h])
            top = max(amounts[lo_7d:hi]) if hi > lo_7d else NAN
            stats = state.amount_stats
            out += (
                sum_1h,
                sum_24h,
                sum_7d,
                top,
                view.amount / top if top > 0.0 else NAN,
                _zscore(view.log_amount, stats[0], stats[1], stats[2]) if stats else NAN,
            )

        if self._category:
            category = view.category
            cat = None if category is None else state.categories.get(category)
            if cat is not None:
                out += (0.0, cat[0] / count)
            else:
                out += (NAN, NAN) if category is None else (1.0, 0.0)
            if self._amount:
                out.append(NAN if cat is None else _zscore(view.log_amount, cat[1], cat[2], cat[3]))

        if self._roles:
            seen = state.seen
            identities = view.identities
            week_ago = t - WEEK
            for role, index in self._roles:
                value = identities[index]
                values = seen.get(role)
                if values is None:
                    out += (NAN if value is None else 1.0, 0.0)
                    continue
                if next(iter(values.values())) >= week_ago:  # inlined count_recent fast path
                    recent = len(values)
                else:
                    recent = count_recent(values, week_ago)
                out += (NAN if value is None else 0.0 if value in values else 1.0, float(recent))

        if self._geo:
            geo = state.geo
            here = view.position
            if geo and here is not None:
                km_last = km_between_vectors(here, geo[4], geo[5], geo[6])
                hours_apart = abs(t - geo[7]) / HOUR
                out += (
                    km_between_vectors(here, geo[1], geo[2], geo[3]),
                    km_last,
                    km_last / (hours_apart if hours_apart > _MIN_HOURS else _MIN_HOURS),
                )
            else:
                out += (NAN, NAN, NAN)

    def _first(self, view: EventView, out: list[float]) -> None:
        """Features of an entity's first event: zero activity, no history, all new."""
        out += (0.0, NAN, NAN, 0.0, 0.0, 0.0, NAN)
        if self._amount:
            out += (0.0, 0.0, 0.0, NAN, NAN, NAN)
        if self._category:
            out.append(NAN if view.category is None else 1.0)
            out.append(NAN)
            if self._amount:
                out.append(NAN)
        identities = view.identities
        for _, index in self._roles:
            out += (NAN if identities[index] is None else 1.0, 0.0)
        if self._geo:
            out += (NAN, NAN, NAN)

    def update(self, view: EventView, state: EntityState) -> None:
        t = view.time
        amount = view.amount
        state.add_recent(t, amount if amount == amount else 0.0, ENTITY_HORIZON, ENTITY_RECENT_CAP)
        hours = state.hours
        if not hours:
            hours = state.hours = [0] * 24
        hours[view.hour] += 1

        x = view.log_amount
        if x == x:
            stats = state.amount_stats
            if not stats:
                stats += (0.0, 0.0, 0.0)
            n = stats[0] + 1.0
            delta = x - stats[1]
            mean = stats[1] + delta / n
            stats[0] = n
            stats[1] = mean
            stats[2] += delta * (x - mean)

        category = view.category
        if category is not None:
            categories = state.categories
            cat = categories.get(category)
            if cat is None:
                if len(categories) >= CATEGORY_CAP:
                    rarest = min(categories, key=lambda name: categories[name][0])
                    del categories[rarest]
                cat = categories[category] = [0.0, 0.0, 0.0, 0.0]
            cat[0] += 1.0
            if x == x:
                n = cat[1] + 1.0
                delta = x - cat[2]
                mean = cat[2] + delta / n
                cat[1] = n
                cat[2] = mean
                cat[3] += delta * (x - mean)

        identities = view.identities
        for role, index in self._roles:
            value = identities[index]
            if value is not None:
                state.touch(role, value, t)

        here = view.position
        if self._geo and here is not None:
            x, y, z = here
            geo = state.geo
            if not geo:
                state.geo = [1.0, x, y, z, x, y, z, t]
            else:
                geo[0] += 1.0
                geo[1] += x
                geo[2] += y
                geo[3] += z
                if t >= geo[7]:  # "last location" is the latest in event time
                    geo[4] = x
                    geo[5] = y
                    geo[6] = z
                    geo[7] = t
