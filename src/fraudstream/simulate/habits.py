"""Per-customer spending habits: how often, how much and when each customer buys per category.

Habits are what make fraud detectable only relative to history: every customer has their own
rate and lognormal amount (mu, sigma) per category, shaped by age, and a daily rhythm (a day,
evening or night person) modulated per category (meals, commutes, late-night online shopping)
and per weekday. The tables are deliberately broad so that legitimate traffic covers every hour,
category and amount range that fraud uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fraudstream.events import PRODUCT_CATEGORIES

CATEGORIES: tuple[str, ...] = PRODUCT_CATEGORIES
N_CATEGORIES = len(CATEGORIES)
CAT = {name: i for i, name in enumerate(CATEGORIES)}

#: Card-not-present categories: paid from a browser/app, so the device and IP are the buyer's.
NET_CATEGORIES: frozenset[str] = frozenset({"grocery_net", "misc_net", "shopping_net", "travel"})
IS_NET: NDArray[np.bool_] = np.array([c in NET_CATEGORIES for c in CATEGORIES])

# category: (purchases per day for an average adult, median amount USD, lognormal sigma)
_BASE: dict[str, tuple[float, float, float]] = {
    "entertainment": (0.10, 42.0, 0.85),
    "food_dining": (0.26, 24.0, 0.75),
    "gas_transport": (0.30, 36.0, 0.80),
    "grocery_net": (0.05, 58.0, 0.65),
    "grocery_pos": (0.34, 52.0, 0.85),
    "health_fitness": (0.08, 40.0, 0.75),
    "home": (0.12, 55.0, 0.95),
    "kids_pets": (0.10, 42.0, 0.85),
    "misc_net": (0.09, 22.0, 1.15),
    "misc_pos": (0.12, 20.0, 1.05),
    "personal_care": (0.10, 24.0, 0.85),
    "travel": (0.025, 240.0, 1.00),
    "shopping_net": (0.13, 62.0, 1.05),
    "shopping_pos": (0.15, 55.0, 0.95),
}

# Small tickets (coffee, transit and parking, vending, app stores, streaming): the share of a
# category's purchases drawn around a few dollars instead of the customer's usual amount.
_SMALL_TICKET: dict[str, float] = {
    "food_dining": 0.25,
    "gas_transport": 0.20,
    "misc_pos": 0.25,
    "misc_net": 0.30,
    "entertainment": 0.12,
    "grocery_pos": 0.05,
    "personal_care": 0.06,
    "shopping_net": 0.04,
    "grocery_net": 0.03,
}
SMALL_TICKET_MEDIAN = 3.5
SMALL_TICKET_SIGMA = 0.55

# Rate multipliers by age band: 18-29, 30-49, 50-64, 65+.
AGE_BANDS: tuple[int, ...] = (30, 50, 65)
_AGE_RATE: dict[str, tuple[float, float, float, float]] = {
    "entertainment": (1.4, 1.0, 0.8, 0.7),
    "food_dining": (1.3, 1.1, 0.9, 0.8),
    "gas_transport": (1.0, 1.15, 1.0, 0.8),
    "grocery_net": (1.3, 1.2, 0.8, 0.5),
    "grocery_pos": (0.8, 1.1, 1.1, 1.2),
    "health_fitness": (0.9, 1.0, 1.2, 1.6),
    "home": (0.6, 1.2, 1.3, 1.0),
    "kids_pets": (0.6, 1.6, 0.9, 0.6),
    "misc_net": (1.6, 1.1, 0.8, 0.5),
    "misc_pos": (1.1, 1.0, 1.0, 0.9),
    "personal_care": (1.2, 1.0, 0.9, 0.9),
    "travel": (0.8, 1.0, 1.3, 1.2),
    "shopping_net": (1.5, 1.2, 0.8, 0.6),
    "shopping_pos": (1.1, 1.0, 1.0, 0.9),
}
_AGE_WEALTH: tuple[float, float, float, float] = (0.75, 1.05, 1.15, 0.9)

# Weekday multipliers, Monday first.
_WEEKDAY: dict[str, tuple[float, ...]] = {
    "entertainment": (0.8, 0.8, 0.9, 1.0, 1.3, 1.6, 1.4),
    "food_dining": (0.9, 0.9, 0.95, 1.0, 1.25, 1.3, 1.1),
    "gas_transport": (1.1, 1.1, 1.1, 1.1, 1.1, 0.8, 0.7),
    "grocery_pos": (0.9, 0.85, 0.9, 0.95, 1.05, 1.35, 1.2),
    "home": (0.9, 0.9, 0.9, 0.9, 1.0, 1.3, 1.3),
    "kids_pets": (0.9, 0.9, 0.9, 0.9, 1.0, 1.25, 1.2),
    "shopping_net": (1.1, 1.05, 1.0, 1.0, 0.95, 0.9, 1.1),
    "shopping_pos": (0.85, 0.85, 0.9, 0.95, 1.1, 1.4, 1.2),
    "travel": (1.0, 0.9, 0.9, 1.1, 1.3, 1.0, 1.1),
}
# Weekend (Fri-Sun) outings cost a bit more.
_WEEKEND_MU: dict[str, float] = {"entertainment": 0.12, "food_dining": 0.10, "shopping_pos": 0.08}
# Holiday season (late Nov - Dec) lifts gift categories.
_SEASON: dict[str, float] = {
    "shopping_net": 1.4,
    "shopping_pos": 1.35,
    "kids_pets": 1.3,
    "misc_net": 1.15,
    "home": 1.1,
}

# Local-hour rhythms: DAY, EVENING and NIGHT people (shift workers, night owls).
PROFILES: tuple[str, ...] = ("day", "evening", "night")
# fmt: off
_PROFILE_HOURS: tuple[tuple[float, ...], ...] = (
    (0.6, 0.3, 0.2, 0.2, 0.3, 0.8, 2.0, 4.0, 5.0, 6.0, 6.5, 7.5,
     8.5, 8.0, 7.0, 7.0, 7.5, 8.0, 8.0, 7.0, 6.0, 4.5, 3.0, 1.5),
    (2.0, 1.2, 0.8, 0.5, 0.4, 0.5, 1.0, 1.5, 2.5, 3.5, 4.5, 5.5,
     6.5, 6.5, 6.0, 6.0, 6.5, 7.5, 8.5, 9.0, 9.0, 8.5, 7.0, 4.5),
    (7.0, 7.0, 6.5, 6.0, 5.0, 3.5, 2.0, 1.5, 1.0, 0.6, 0.5, 0.6,
     1.2, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0),
)
# fmt: on
# Profile shares by age band (day, evening, night).
_PROFILE_BY_AGE: tuple[tuple[float, float, float], ...] = (
    (0.50, 0.36, 0.14),
    (0.60, 0.30, 0.10),
    (0.68, 0.25, 0.07),
    (0.80, 0.15, 0.05),
)


def _category_hour_shape(category: str) -> NDArray[np.float64]:
    shape = np.ones(24)
    if category == "food_dining":
        shape[7:10] = 1.3
        shape[11:14] = 1.8
        shape[18:21] = 1.6
        shape[0:5] = 0.8
    elif category == "gas_transport":
        shape[6:10] = 1.6
        shape[16:19] = 1.5
    elif category == "grocery_pos":
        shape[9:21] = 1.2
        shape[0:6] = 0.5
    elif category in NET_CATEGORIES - {"travel"}:
        shape[19:24] = 1.5
        shape[0:5] = 1.9
        shape[6:11] = 0.8
    elif category == "entertainment":
        shape[18:24] = 1.8
        shape[6:12] = 0.5
    return shape


def _hour_table() -> NDArray[np.float64]:
    table = np.empty((len(PROFILES), N_CATEGORIES, 24))
    for p, base in enumerate(_PROFILE_HOURS):
        for k, cat in enumerate(CATEGORIES):
            w = np.asarray(base) * _category_hour_shape(cat)
            table[p, k] = w / w.sum()
    return table


#: P(local hour | profile, category), shape (profiles, categories, 24).
HOUR_P: NDArray[np.float64] = _hour_table()
#: Weekday multipliers, shape (categories, 7), Monday = 0.
WEEKDAY: NDArray[np.float64] = np.array([_WEEKDAY.get(c, (1.0,) * 7) for c in CATEGORIES])
WEEKEND_MU: NDArray[np.float64] = np.array([_WEEKEND_MU.get(c, 0.0) for c in CATEGORIES])
SEASON: NDArray[np.float64] = np.array([_SEASON.get(c, 1.0) for c in CATEGORIES])
SMALL_TICKET: NDArray[np.float64] = np.array([_SMALL_TICKET.get(c, 0.0) for c in CATEGORIES])


def age_band(age: NDArray[np.integer]) -> NDArray[np.intp]:
    """0: 18-29, 1: 30-49, 2: 50-64, 3: 65+."""
    return np.searchsorted(np.asarray(AGE_BANDS), age, side="right")


@dataclass(frozen=True, eq=False)
class Habits:
    """Per-customer habits, arrays of shape (customers, categories) unless noted."""

    rate: NDArray[np.float64]  # expected purchases per day
    mu: NDArray[np.float64]  # lognormal mean of log(amount USD)
    sigma: NDArray[np.float64]  # lognormal sigma
    profile: NDArray[np.int8]  # (customers,) index into PROFILES

    @property
    def daily_rate(self) -> NDArray[np.float64]:
        """Purchases per day, all categories, shape (customers,)."""
        return np.asarray(self.rate.sum(axis=1))


def build_habits(age: NDArray[np.int16], rng: np.random.Generator) -> Habits:
    """Draw habits: age-shaped means with per-customer taste, activity and wealth."""
    n = len(age)
    band = age_band(age)
    base_rate = np.array([_BASE[c][0] for c in CATEGORIES])
    base_mu = np.log([_BASE[c][1] for c in CATEGORIES])
    base_sigma = np.array([_BASE[c][2] for c in CATEGORIES])
    age_rate = np.array([_AGE_RATE[c] for c in CATEGORIES]).T  # (bands, categories)

    activity = rng.lognormal(0.0, 0.5, size=(n, 1))
    taste = rng.lognormal(0.0, 0.6, size=(n, N_CATEGORIES))
    # Some customers (almost) never use a category at all.
    taste *= np.where(rng.random((n, N_CATEGORIES)) < 0.12, 0.05, 1.0)
    rate = base_rate * age_rate[band] * activity * taste

    wealth = np.log(np.asarray(_AGE_WEALTH)[band]) + rng.normal(0.0, 0.35, size=n)
    mu = base_mu + wealth[:, None] + rng.normal(0.0, 0.2, size=(n, N_CATEGORIES))
    sigma = base_sigma * rng.uniform(0.8, 1.2, size=(n, N_CATEGORIES))

    shares = np.asarray(_PROFILE_BY_AGE)[band]
    u = rng.random(n)
    profile = (u[:, None] > np.cumsum(shares, axis=1)[:, :2]).sum(axis=1).astype(np.int8)
    return Habits(rate=rate, mu=mu, sigma=sigma, profile=profile)


def draw_amounts(
    habits: Habits,
    rng: np.random.Generator,
    customer: NDArray[np.int32],
    category: NDArray[np.int8],
    weekday: NDArray[np.int64],
    shift: NDArray[np.float64] | float = 0.0,
    *,
    small_tickets: bool = True,
) -> NDArray[np.float64]:
    """Amounts in USD from each customer's habit; ``shift`` adds to log(amount).

    With ``small_tickets`` some purchases in small-ticket categories cost a few dollars
    whatever the habit: legit traffic is full of purchases as small as card tests.
    """
    n = len(customer)
    weekend = weekday >= 4
    mu = habits.mu[customer, category] + np.where(weekend, WEEKEND_MU[category], 0.0) + shift
    sigma = habits.sigma[customer, category]
    z = rng.standard_normal(n)
    small = rng.random(n) < (SMALL_TICKET[category] if small_tickets else 0.0)
    mu = np.where(small, np.log(SMALL_TICKET_MEDIAN), mu)
    sigma = np.where(small, SMALL_TICKET_SIGMA, sigma)
    return np.asarray(np.exp(mu + sigma * z))


def draw_hours(
    rng: np.random.Generator, profile: NDArray[np.int8], category: NDArray[np.int8]
) -> NDArray[np.int64]:
    """Local hour of day for each (profile, category), grouped so each group is one lookup."""
    group = profile.astype(np.int64) * N_CATEGORIES + category
    cdf = np.cumsum(HOUR_P.reshape(-1, 24), axis=1)
    cdf[:, -1] = 1.0
    return grouped_inverse_cdf(rng, group, cdf)


def grouped_inverse_cdf(
    rng: np.random.Generator, group: NDArray[np.int64], cdf: NDArray[np.float64]
) -> NDArray[np.int64]:
    """For each item, an index drawn from ``cdf[group]``: one searchsorted per group."""
    u = rng.random(len(group))
    out = np.empty(len(group), dtype=np.int64)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(cdf.shape[0] + 1))
    for g in range(cdf.shape[0]):
        lo, hi = bounds[g], bounds[g + 1]
        if hi > lo:
            idx = order[lo:hi]
            out[idx] = np.searchsorted(cdf[g], u[idx], side="right")
    return np.asarray(np.minimum(out, cdf.shape[1] - 1))
