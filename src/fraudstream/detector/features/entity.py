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
    SINCE_ROLES,
    EntityState,
    count_recent,
)
from fraudstream.detector.features.values import NAN
from fraudstream.detector.features.view import EventView

#: Floor of the standard deviation of log amounts in z-scores: a customer whose payments
#: were all identical would otherwise turn a one-cent difference into an infinite z-score.
MIN_LOG_STD = 0.1
#: The per-category amount z-score shrinks the category's spread towards this typical spread
#: of log amounts with the weight of :data:`PRIOR_WEIGHT` purchases: with two or three
#: purchases in a category, their sample spread alone says little (and is often ~0).
PRIOR_LOG_STD = 0.9
PRIOR_WEIGHT = 2.0
#: ... and its mean towards the entity's overall mean of log amounts with this weight.
PRIOR_MEAN_WEIGHT = 1.0
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
_HOUR_PRIOR = 8.0


#: Amount ratios saturate here: a payment of a million times the largest earlier one is
#: already as unusual as it gets (and a 1e-300 "largest" must not give infinity).
RATIO_CAP = 1e6


def _ratio(amount: float, reference: float) -> float:
    """``amount / reference`` within +-:data:`RATIO_CAP`; NaN without a positive reference."""
    if reference > 0.0:
        ratio = amount / reference
        if ratio > RATIO_CAP:
            return RATIO_CAP
        if ratio < -RATIO_CAP:
            return -RATIO_CAP
        return ratio  # (NaN stays NaN)
    return NAN


def _zscore(x: float, n: float, mean: float, m2: float) -> float:
    if n < 2.0 or x != x:
        return NAN
    std = math.sqrt(m2 / (n - 1.0))
    return (x - mean) / (std if std > MIN_LOG_STD else MIN_LOG_STD)


_PRIOR_M2 = PRIOR_WEIGHT * PRIOR_LOG_STD * PRIOR_LOG_STD


def _shrunk_zscore(x: float, n: float, mean: float, m2: float, prior_mean: float) -> float:
    """z-score of ``x`` against ``n`` earlier values, shrunk towards priors when ``n`` is small.

    The mean is pulled towards ``prior_mean`` (the entity's overall mean) with the weight of
    :data:`PRIOR_MEAN_WEIGHT` values, the variance towards :data:`PRIOR_LOG_STD` squared with
    the weight of :data:`PRIOR_WEIGHT`: the sample's once there are many values, the priors'
    with none (NaN only without any prior mean, i.e. no earlier amount at all).
    """
    if x != x:
        return NAN
    if prior_mean == prior_mean:
        mean = (n * mean + PRIOR_MEAN_WEIGHT * prior_mean) / (n + PRIOR_MEAN_WEIGHT)
    elif n < 1.0:
        return NAN
    return (x - mean) / math.sqrt((m2 + _PRIOR_M2) / (n - 1.0 + PRIOR_WEIGHT))


class EntityBlock(FeatureBlock):
    """Aggregates kept under ``entity:<type>:<id>``."""

    __slots__ = ("_amount", "_category", "_geo", "_roles", "_small")

    def __init__(self, schema: FeatureSchema) -> None:
        self._amount = schema.amount is not None
        self._small = schema.small_amount
        self._category = schema.category is not None
        self._geo = schema.latitude is not None
        self._roles = tuple(
            (role, index, role in SINCE_ROLES)
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
            "entity_hour_share_3h",
        ]
        if self._amount:
            names += [
                "entity_amount_sum_1h",
                "entity_amount_sum_24h",
                "entity_amount_sum_7d",
                "entity_amount_max_7d",
                "entity_amount_to_max_7d",
                "entity_amount_zscore",
                "entity_amount_to_max",
            ]
        if self._category:
            names += [
                "entity_new_category",
                "entity_category_share",
                "entity_distinct_categories_1h",
            ]
            if self._amount:
                names += ["entity_category_amount_zscore", "entity_category_amount_to_max"]
        plural = {role: many for role, many, _ in _IDENTITY_ROLES}
        for role, _, since in self._roles:
            names += [f"entity_new_{role}", f"entity_distinct_{plural[role]}_7d"]
            if since:
                names.append(f"entity_{role}_known_days")
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
        if hours:
            hour = view.hour
            at_hour = hours[hour]
            share = at_hour / count
            # Smoothed towards the 3/24 of an entity without a rhythm, with the weight of
            # _HOUR_PRIOR events: 0 of 8 earlier events is no evidence, 0 of 200 is.
            share_3h = (hours[hour - 1] + at_hour + hours[hour - 23] + _HOUR_PRIOR / 8.0) / (
                count + _HOUR_PRIOR
            )
        else:
            share = share_3h = NAN
        out += (
            float(count),
            (since_first if since_first > 0.0 else 0.0) / DAY,
            (t - previous) / HOUR,
            float(hi - lo_1h),
            float(hi - lo_24h),
            float(hi - lo_7d),
            share,
            share_3h,
        )

        if self._amount:
            amounts = state.amounts
            # Nested windows: each stored amount is added once.
            sum_1h = sum(amounts[lo_1h:hi]) if hi > lo_1h else 0.0
            sum_24h = sum_1h + sum(amounts[lo_24h:lo_1h]) if lo_1h > lo_24h else sum_1h
            sum_7d = sum_24h + sum(amounts[lo_7d:lo_24h])
            top = max(amounts[lo_7d:hi]) if hi > lo_7d else NAN
            amount = view.amount
            stats = state.amount_stats
            if stats:
                zscore = _zscore(view.log_amount, stats[0], stats[1], stats[2])
                to_max = _ratio(amount, stats[3])
            else:
                zscore = to_max = NAN
            out += (
                sum_1h,
                sum_24h,
                sum_7d,
                top,
                _ratio(amount, top),
                zscore,
                to_max,
            )

        if self._category:
            category = view.category
            categories = state.categories
            cat = None if category is None else categories.get(category)
            recent = 0
            if hi > lo_1h:  # (no event in the last hour: no category either)
                hour_ago = t - HOUR
                for stats in categories.values():
                    if stats[5] >= hour_ago:
                        recent += 1
            if cat is not None:
                out += (0.0, cat[0] / count, float(recent))
            else:
                out += (NAN, NAN, float(recent)) if category is None else (1.0, 0.0, float(recent))
            if self._amount:
                stats = state.amount_stats
                overall = stats[1] if stats else NAN
                if cat is None:
                    zscore = _shrunk_zscore(view.log_amount, 0.0, 0.0, 0.0, overall)
                    out += (NAN if category is None else zscore, NAN)
                else:
                    out += (
                        _shrunk_zscore(view.log_amount, cat[1], cat[2], cat[3], overall),
                        _ratio(view.amount, cat[4]),
                    )

        if self._roles:
            seen = state.seen
            since = state.since
            identities = view.identities
            week_ago = t - WEEK
            for role, index, tracked in self._roles:
                value = identities[index]
                values = seen.get(role)
                if values is None:
                    if tracked:
                        out += (NAN, 0.0, NAN) if value is None else (1.0, 0.0, 0.0)
                    else:
                        out += (NAN, 0.0) if value is None else (1.0, 0.0)
                    continue
                if next(iter(values.values())) >= week_ago:  # inlined count_recent fast path
                    distinct = float(len(values))
                else:
                    distinct = float(count_recent(values, week_ago))
                if value is None:
                    out += (NAN, distinct, NAN) if tracked else (NAN, distinct)
                elif value not in values:
                    out += (1.0, distinct, 0.0) if tracked else (1.0, distinct)
                elif tracked:
                    firsts = since.get(role)
                    first = NAN if firsts is None else firsts.get(value, NAN)
                    # (first is NaN for values known from before first-seen times were kept)
                    known = (t - first) / DAY if t > first else 0.0 if first == first else NAN
                    out += (0.0, distinct, known)
                else:
                    out += (0.0, distinct)

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
        out += (0.0, NAN, NAN, 0.0, 0.0, 0.0, NAN, NAN)
        if self._amount:
            out += (0.0, 0.0, 0.0, NAN, NAN, NAN, NAN)
        if self._category:
            out += (NAN if view.category is None else 1.0, NAN, 0.0)
            if self._amount:
                out += (NAN, NAN)
        identities = view.identities
        for _, index, since in self._roles:
            if identities[index] is None:
                out += (NAN, 0.0, NAN) if since else (NAN, 0.0)
            else:
                out += (1.0, 0.0, 0.0) if since else (1.0, 0.0)
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
                stats += (0.0, 0.0, 0.0, 0.0)
            n = stats[0] + 1.0
            delta = x - stats[1]
            mean = stats[1] + delta / n
            stats[0] = n
            stats[1] = mean
            stats[2] += delta * (x - mean)
            if amount > stats[3]:
                stats[3] = amount

        category = view.category
        if category is not None:
            categories = state.categories
            cat = categories.get(category)
            if cat is None:
                if len(categories) >= CATEGORY_CAP:
                    rarest = min(categories, key=lambda name: categories[name][0])
                    del categories[rarest]
                cat = categories[category] = [0.0, 0.0, 0.0, 0.0, 0.0, t]
            cat[0] += 1.0
            # The spread of usual purchases: small tickets (a coffee, a transit fare) are a
            # mode of their own that would hide how far a big purchase is from the habit.
            if x == x and amount >= self._small:
                n = cat[1] + 1.0
                delta = x - cat[2]
                mean = cat[2] + delta / n
                cat[1] = n
                cat[2] = mean
                cat[3] += delta * (x - mean)
            if amount > cat[4]:
                cat[4] = amount
            if t > cat[5]:
                cat[5] = t

        identities = view.identities
        for role, index, since in self._roles:
            value = identities[index]
            if value is not None:
                if since:
                    state.touch_since(role, value, t)
                else:
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
