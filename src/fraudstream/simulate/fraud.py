"""Labelled fraud: four realistic attack patterns, injected into a victim's stream.

Each kind reuses the value distributions of legitimate traffic (the same user-agent pool, the
public IPs travellers use, the victim's own e-mail, name and card, amounts drawn relative to the
victim's own habit) so that no single raw field gives it away:

* ``stolen_card_spree``: 3-9 purchases within about an hour, mostly at night, in categories
  where stolen cards are cashed out, at about 2x the victim's usual amount; a skimmed card keeps
  the victim's device fields, a card-not-present spree comes from a stranger's device.
* ``card_testing``: 4-16 purchases under $5 seconds to minutes apart from one bot device, then
  often one big purchase.
* ``account_takeover``: the e-mail, often the phone, and the billing address of a mule far from
  the victim's home, a new device/IP, then 1-5 online purchases over the following hours.
* ``amount_anomaly``: one or two purchases at 5-20x the victim's habit in a category they use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from fraudstream.errors import InvalidInput
from fraudstream.simulate.columns import (
    SECONDS_PER_DAY,
    Columns,
    group_cumsum,
    local_clock,
    to_currency,
)
from fraudstream.simulate.geo import haversine_km
from fraudstream.simulate.habits import CAT, HOUR_P, N_CATEGORIES, draw_amounts
from fraudstream.simulate.legit import (
    any_device,
    currencies,
    customer_state,
    public_ip,
    usual_device,
    usual_ip,
)
from fraudstream.simulate.population import Population


class FraudKind(StrEnum):
    """The attack pattern behind a fraudulent transaction."""

    STOLEN_CARD_SPREE = "stolen_card_spree"
    CARD_TESTING = "card_testing"
    ACCOUNT_TAKEOVER = "account_takeover"
    AMOUNT_ANOMALY = "amount_anomaly"


#: Kind codes used in :class:`~fraudstream.simulate.columns.Columns` (0 is legit).
KINDS: tuple[FraudKind, ...] = tuple(FraudKind)
KIND_CODE: dict[FraudKind, int] = {kind: i + 1 for i, kind in enumerate(KINDS)}

#: Share of fraud *events* per kind.
DEFAULT_FRAUD_MIX: Mapping[FraudKind, float] = {
    FraudKind.STOLEN_CARD_SPREE: 0.35,
    FraudKind.CARD_TESTING: 0.30,
    FraudKind.ACCOUNT_TAKEOVER: 0.20,
    FraudKind.AMOUNT_ANOMALY: 0.15,
}

MIN_FAR_KM = 300.0

_SPREE_CATS = {
    "shopping_net": 0.22,
    "misc_net": 0.12,
    "grocery_pos": 0.20,
    "gas_transport": 0.20,
    "shopping_pos": 0.12,
    "entertainment": 0.07,
    "food_dining": 0.07,
}
_TEST_CATS = {
    "misc_net": 0.35,
    "shopping_net": 0.20,
    "grocery_net": 0.10,
    "food_dining": 0.12,
    "entertainment": 0.12,
    "misc_pos": 0.06,
    "personal_care": 0.05,
}
_CASHOUT_CATS = {"shopping_net": 0.5, "misc_net": 0.2, "travel": 0.15, "home": 0.15}
_ATO_CATS = {
    "shopping_net": 0.30,
    "misc_net": 0.12,
    "travel": 0.13,
    "home": 0.12,
    "grocery_net": 0.10,
    "entertainment": 0.10,
    "kids_pets": 0.08,
    "health_fitness": 0.05,
}
# Median days until the label (chargeback, customer complaint) arrives.
_LABEL_DAYS: dict[FraudKind, float] = {
    FraudKind.STOLEN_CARD_SPREE: 3.0,
    FraudKind.CARD_TESTING: 1.5,
    FraudKind.ACCOUNT_TAKEOVER: 7.0,
    FraudKind.AMOUNT_ANOMALY: 12.0,
}


def _probs(weights: Mapping[str, float]) -> NDArray[np.float64]:
    p = np.zeros(N_CATEGORIES)
    for name, w in weights.items():
        p[CAT[name]] = w
    return np.asarray(p / p.sum())


def _hour_weights(kind: FraudKind) -> NDArray[np.float64]:
    w = np.ones(24)
    if kind is FraudKind.STOLEN_CARD_SPREE:
        w[0:5] = 0.65 / 5 / (0.35 / 19)  # 65% of sprees start between midnight and 5 am
    elif kind is FraudKind.ACCOUNT_TAKEOVER:
        w[18:24] = 2.0
        w[0:5] = 1.5
    return np.asarray(w / w.sum())


#: P(local start hour) per kind; the amount anomaly follows the victim's own rhythm instead.
START_HOUR_P: dict[FraudKind, NDArray[np.float64]] = {k: _hour_weights(k) for k in KINDS}


#: A customer's overall P(local hour), shape (profiles, 24).
PROFILE_HOUR_P: NDArray[np.float64] = HOUR_P.mean(axis=1)


def victim_weights(pop: Population, kind: FraudKind, time: float) -> NDArray[np.float64]:
    """P(victim) for an incident starting at ``time``: exposure times a suitable local hour."""
    hour, _ = local_clock(np.full(len(pop), float(time)), pop.utc_offset_h)
    if kind is FraudKind.AMOUNT_ANOMALY:
        w = PROFILE_HOUR_P[pop.habits.profile, hour]
    else:
        w = START_HOUR_P[kind][hour]
    w = w * exposure(pop)
    return np.asarray(w / w.sum())


def exposure(pop: Population) -> NDArray[np.float64]:
    """P(customer is the next victim): proportional to card use, since every merchant that sees
    a card can leak it. (Uniform victims would make fraud rarer among busy customers, so the
    customer's identity fields themselves would predict fraud.)"""
    rate = pop.habits.daily_rate
    return np.asarray(rate / rate.sum())


def check_mix(mix: Mapping[FraudKind, float] | None) -> dict[FraudKind, float]:
    """The fraud mix normalised to sum to 1 (``None``: the default mix)."""
    mix = DEFAULT_FRAUD_MIX if mix is None else mix
    out = {FraudKind(k): float(v) for k, v in mix.items()}
    if any(not v >= 0 for v in out.values()) or sum(out.values()) <= 0:
        raise InvalidInput("fraud_mix needs non-negative shares with a positive sum")
    total = sum(out.values())
    return {k: v / total for k, v in out.items()}


#: Expected events per incident (from :func:`incident_sizes`).
MEAN_SIZE: dict[FraudKind, float] = {
    FraudKind.STOLEN_CARD_SPREE: 3 + 6 * 0.4,
    FraudKind.CARD_TESTING: 4 + 12 * 0.45 + 0.5,
    FraudKind.ACCOUNT_TAKEOVER: 1 + 4 * 0.5,
    FraudKind.AMOUNT_ANOMALY: 1.2,
}


def incident_sizes(kind: FraudKind, rng: np.random.Generator, m: int) -> NDArray[np.int64]:
    """Events per incident."""
    if kind is FraudKind.STOLEN_CARD_SPREE:
        return 3 + rng.binomial(6, 0.4, size=m)
    if kind is FraudKind.CARD_TESTING:
        return 4 + rng.binomial(12, 0.45, size=m) + (rng.random(m) < 0.5)
    if kind is FraudKind.ACCOUNT_TAKEOVER:
        return 1 + rng.binomial(4, 0.5, size=m)
    return 1 + (rng.random(m) < 0.2)


def sizes_for(kind: FraudKind, rng: np.random.Generator, n_events: int) -> NDArray[np.int64]:
    """Incident sizes adding up to exactly ``n_events`` (the last incident is cut short)."""
    if n_events <= 0:
        return np.zeros(0, dtype=np.int64)
    sizes = incident_sizes(kind, rng, n_events)  # each has at least one event: enough
    cut = int(np.searchsorted(np.cumsum(sizes), n_events)) + 1
    sizes = sizes[:cut].copy()
    sizes[-1] -= int(sizes.sum()) - n_events
    return sizes


def _offsets(
    rng: np.random.Generator, sizes: NDArray[np.int64], gap_s: float, first_s: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Seconds from incident start: ``first_s`` for the first event, then exponential gaps."""
    gaps = rng.exponential(gap_s, size=int(sizes.sum()))
    starts = np.cumsum(sizes) - sizes
    gaps[starts] = first_s
    return group_cumsum(gaps, sizes)


def stranger_ip(pop: Population, rng: np.random.Generator, size: int) -> NDArray[np.int32]:
    """A fraudster's IP: a VPN/proxy exit travellers also use, or a residential or mobile proxy
    (someone else's home line or carrier address), as modern fraud tooling rents."""
    source = rng.random(size)
    residential = pop.home_ip[rng.integers(len(pop), size=size)]
    mobile = pop.mobile_ip[rng.integers(len(pop), size=size)]
    return np.select(
        [source < 0.5, source < 0.8], [public_ip(pop, rng, size), residential], mobile
    ).astype(np.int32)


def mule_for(
    pop: Population, rng: np.random.Generator, address: NDArray[np.int32]
) -> NDArray[np.int32]:
    """A mule per victim: a customer living at least MIN_FAR_KM from the victim's address.

    Takeovers redirect goods and contact details to a mule (a reshipper, often recruited and
    otherwise an ordinary customer), so the new e-mail, phone and address are values that
    also appear in legitimate traffic: only their novelty for the victim stands out.
    """
    book = pop.addresses
    candidates = rng.integers(len(pop), size=(len(address), 64))
    home = pop.home[candidates]
    dist = haversine_km(
        book.latitude[address][:, None],
        book.longitude[address][:, None],
        book.latitude[home],
        book.longitude[home],
    )
    score = np.where(dist >= MIN_FAR_KM, 1.0 + rng.random(dist.shape), dist / (dist.max() + 1.0))
    return np.asarray(candidates[np.arange(len(address)), np.argmax(score, axis=1)], dtype=np.int32)


def fraud_columns(
    pop: Population,
    rng: np.random.Generator,
    kind: FraudKind,
    victim: NDArray[np.int32],
    start: NDArray[np.float64],
    sizes: NDArray[np.int64],
    period: tuple[float, float] | None,
) -> Columns:
    """The events of incidents of ``kind`` on ``victim`` customers starting at ``start``.

    ``period`` is the history's (start, end) to place each victim's life changes; ``None``
    means after the history (live), where all changes have happened.
    """
    m = len(victim)
    n = int(sizes.sum())
    if n == 0:
        return Columns.empty()
    inc = np.repeat(np.arange(m), sizes)
    first = np.cumsum(sizes) - sizes
    position = np.arange(n) - first[inc]
    customer = victim[inc].astype(np.int32)
    frac0 = np.full(m, np.inf) if period is None else (start - period[0]) / (period[1] - period[0])
    email, address = customer_state(pop, victim.astype(np.int32), frac0, rng)
    email, address = email[inc], address[inc]
    phone = pop.phone[customer]
    shift = np.zeros(n)
    stranger = np.zeros(m, dtype=bool)  # incident uses the fraudster's own device and IP
    tiny = np.zeros(n, dtype=bool)  # card tests: a few dollars whatever the habit
    category = rng.choice(N_CATEGORIES, size=n, p=_probs(_SPREE_CATS)).astype(np.int8)

    if kind is FraudKind.STOLEN_CARD_SPREE:
        offset = _offsets(rng, sizes, 540.0, np.zeros(m))
        shift = rng.normal(0.7, 0.5, n)
        stranger = rng.random(m) < 0.6
    elif kind is FraudKind.CARD_TESTING:
        offset = _offsets(rng, sizes, 40.0, np.zeros(m))
        big = (rng.random(m) < 0.5) & (sizes >= 3)
        is_big = big[inc] & (position == sizes[inc] - 1)
        offset = np.where(is_big, offset - 40.0 + rng.uniform(300, 3600, n), offset)
        tests = rng.choice(N_CATEGORIES, size=n, p=_probs(_TEST_CATS))
        cashout = rng.choice(N_CATEGORIES, size=n, p=_probs(_CASHOUT_CATS))
        category = np.where(is_big, cashout, tests).astype(np.int8)
        shift = np.where(is_big, rng.normal(1.2, 0.5, n), 0.0)
        tiny = ~is_big
        stranger[:] = True
    elif kind is FraudKind.ACCOUNT_TAKEOVER:
        offset = _offsets(rng, sizes, 4 * 3600.0, rng.uniform(600, 6 * 3600, m))
        category = rng.choice(N_CATEGORIES, size=n, p=_probs(_ATO_CATS)).astype(np.int8)
        shift = rng.normal(0.6, 0.6, n)
        stranger[:] = True
        mule = mule_for(pop, rng, address[first])
        email = pop.email[mule][inc]
        phone = np.where(rng.random(m) < 0.4, pop.phone[mule], pop.phone[victim])[inc]
        address = pop.home[mule][inc]
    else:
        offset = _offsets(rng, sizes, 6 * 3600.0, np.zeros(m))
        rate = pop.habits.rate[customer]
        cdf = np.cumsum(rate, axis=1) / rate.sum(axis=1, keepdims=True)
        category = (rng.random(n)[:, None] > cdf).sum(axis=1).clip(max=N_CATEGORIES - 1)
        category = category.astype(np.int8)
        shift = np.log(rng.uniform(5.0, 20.0, n))
        stranger = rng.random(m) < 0.5

    time = np.floor(start[inc] + offset)
    frac = np.full(n, np.inf) if period is None else (time - period[0]) / (period[1] - period[0])
    _, weekday = local_clock(time, pop.utc_offset_h[customer])
    usd = draw_amounts(pop.habits, rng, customer, category, weekday, shift, small_tickets=False)
    usd = np.where(tiny, rng.uniform(0.5, 4.99, n), usd)
    usd = np.minimum(usd, 25_000.0)
    currency = currencies(category, np.zeros(n, dtype=np.int8), rng)

    own_ua = usual_device(pop, customer, frac, rng)
    own_ip = usual_ip(pop, customer, category, np.zeros(n, dtype=bool), rng)
    their_ua = any_device(pop, rng, m)[inc]
    their_ip = stranger_ip(pop, rng, m)[inc]
    if kind is FraudKind.CARD_TESTING:  # a third of testers rotate proxies on every attempt
        rotate = (rng.random(m) < 0.33)[inc]
        their_ip = np.where(rotate, stranger_ip(pop, rng, n), their_ip)
    s = stranger[inc]
    delay = rng.lognormal(np.log(_LABEL_DAYS[kind] * SECONDS_PER_DAY), 0.8, m)[inc]
    return Columns(
        customer=customer,
        time=time,
        category=category,
        amount=to_currency(usd, currency),
        currency=currency,
        ip=np.where(s, their_ip, own_ip).astype(np.int32),
        user_agent=np.where(s, their_ua, own_ua).astype(np.int32),
        email=email.astype(np.int32),
        phone=phone.astype(np.int32),
        address=address.astype(np.int32),
        kind=np.full(n, KIND_CODE[kind], dtype=np.int8),
        label_delay=delay,
    )


def _history_starts(
    pop: Population,
    rng: np.random.Generator,
    kind: FraudKind,
    victim: NDArray[np.int32],
    start: float,
    end: float,
) -> NDArray[np.float64]:
    """Incident start times: a day after some history, at a local hour the kind prefers."""
    m = len(victim)
    span = end - start
    warmup = min(14 * SECONDS_PER_DAY, 0.1 * span)
    tail = min(2 * SECONDS_PER_DAY, 0.02 * span)
    if kind is FraudKind.AMOUNT_ANOMALY:
        hour_p = PROFILE_HOUR_P[pop.habits.profile[victim]]
        hour = (rng.random(m)[:, None] > np.cumsum(hour_p, axis=1)).sum(axis=1).clip(max=23)
    else:
        hour = rng.choice(24, size=m, p=START_HOUR_P[kind])
    t = rng.uniform(start + warmup, end - tail, m)
    local = t + pop.utc_offset_h[victim] * 3600.0
    local_day = np.floor(local / SECONDS_PER_DAY) * SECONDS_PER_DAY
    t = local_day + hour * 3600.0 + rng.uniform(0, 3600, m) - pop.utc_offset_h[victim] * 3600.0
    lo, hi = start + warmup, end - tail
    t = np.where(t < lo, t + SECONDS_PER_DAY, np.where(t > hi, t - SECONDS_PER_DAY, t))
    return np.asarray(np.clip(t, lo, hi))


def fraud_history(
    pop: Population,
    rng: np.random.Generator,
    n_fraud: int,
    start: float,
    end: float,
    mix: Mapping[FraudKind, float] | None = None,
) -> Columns:
    """Exactly ``n_fraud`` fraud events in [start, end) split by ``mix``, unordered."""
    shares = check_mix(mix)
    kinds = [k for k in KINDS if shares.get(k, 0.0) > 0]
    raw = np.array([shares[k] * n_fraud for k in kinds])
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(counts - raw)[: n_fraud - int(counts.sum())]] += 1  # largest remainder
    parts = []
    for kind, count in zip(kinds, counts, strict=True):
        sizes = sizes_for(kind, rng, int(count))
        victim = rng.choice(len(pop), size=len(sizes), p=exposure(pop)).astype(np.int32)
        starts = _history_starts(pop, rng, kind, victim, start, end)
        cols = fraud_columns(pop, rng, kind, victim, starts, sizes, (start, end))
        parts.append(cols)
    if not parts:
        return Columns.empty()
    out = Columns.concat(parts)
    # A rare takeover running past the end of the history is pulled back inside it.
    return replace(out, time=np.minimum(out.time, end - 1.0))
