"""Legitimate behaviour, vectorised: who buys what, when, for how much, from which device.

Legit traffic is built to contain every raw value fraud has: people shop at night, buy online
for large amounts, splurge far above their habit, travel (public IPs, foreign currencies), get
new phones and e-mail addresses, move house or bill to a second home far away, and make bursts
of tiny purchases (in-app, transit). What stays rare is the *combination* for one customer,
relative to their own history, which is what a detector should learn.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fraudstream.simulate.columns import (
    SECONDS_PER_DAY,
    Columns,
    group_cumsum,
    local_clock,
    to_currency,
)
from fraudstream.simulate.habits import (
    CAT,
    IS_NET,
    N_CATEGORIES,
    SEASON,
    WEEKDAY,
    draw_amounts,
    draw_hours,
    grouped_inverse_cdf,
)
from fraudstream.simulate.population import MAX_DEVICES, Population

# Where the IP comes from: (home line, carrier NAT, public wifi/VPN).
_IP_NET = (0.60, 0.29, 0.11)
_IP_POS = (0.40, 0.52, 0.08)
_IP_TRIP = (0.0, 0.25, 0.75)
# Which of the usual devices is used, by number of devices.
_SLOT_CDF = np.array([[1.0, 1.0, 1.0], [0.7, 1.0, 1.0], [0.6, 0.88, 1.0]])
BORROWED_DEVICE_P = 0.015  # a friend's phone, a work laptop, a new browser
SPLURGE_P = 0.02  # now and then a big purchase: 3-12x the habit
SECOND_HOME_P = 0.15
FOREIGN_ONLINE_P = 0.015  # online shops abroad charge in their currency
MICRO_SHARE = 0.015  # share of legit events that are extra tiny purchases in a burst


def customer_state(
    pop: Population,
    customer: NDArray[np.int32],
    frac: NDArray[np.float64],
    rng: np.random.Generator,
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """(e-mail, billing address) each customer uses at ``frac`` of the history period."""
    email = np.where(
        pop.new_email_at[customer] <= frac, pop.new_email[customer], pop.email[customer]
    )
    address = np.where(pop.move_at[customer] <= frac, pop.moved_to[customer], pop.home[customer])
    second = pop.second_home[customer]
    use_second = (second >= 0) & (rng.random(len(customer)) < SECOND_HOME_P)
    return email.astype(np.int32), np.where(use_second, second, address).astype(np.int32)


def usual_device(
    pop: Population,
    customer: NDArray[np.int32],
    frac: NDArray[np.float64],
    rng: np.random.Generator,
) -> NDArray[np.int32]:
    """One of each customer's own devices (the new one replaces the main after an upgrade)."""
    n_dev = pop.n_devices[customer].astype(np.intp)
    slot = (rng.random(len(customer))[:, None] > _SLOT_CDF[n_dev - 1]).sum(axis=1)
    slot = np.minimum(slot, MAX_DEVICES - 1)
    ua = pop.devices[customer, slot]
    upgraded = (slot == 0) & (pop.new_device_at[customer] <= frac)
    return np.where(upgraded, pop.new_device[customer], ua).astype(np.int32)


def any_device(pop: Population, rng: np.random.Generator, size: int) -> NDArray[np.int32]:
    """A device from the whole population's mix (what a stranger or new browser looks like)."""
    return rng.choice(len(pop.user_agents), size=size, p=pop.user_agent_p).astype(np.int32)


def public_ip(pop: Population, rng: np.random.Generator, size: int) -> NDArray[np.int32]:
    """A shared public address: hotel or cafe wifi, a VPN exit, a proxy."""
    return pop.public_ips[rng.integers(len(pop.public_ips), size=size)]


def usual_ip(
    pop: Population,
    customer: NDArray[np.int32],
    category: NDArray[np.int8],
    travelling: NDArray[np.bool_],
    rng: np.random.Generator,
) -> NDArray[np.int32]:
    """The IP a customer pays from: home, phone, or public wifi (mostly when travelling)."""
    shares = np.where(IS_NET[category][:, None], np.array(_IP_NET), np.array(_IP_POS))
    shares = np.where(travelling[:, None], np.array(_IP_TRIP), shares)
    u = rng.random(len(customer))
    source = (u[:, None] > np.cumsum(shares, axis=1)[:, :2]).sum(axis=1)
    return np.select(
        [source == 0, source == 1],
        [pop.home_ip[customer], pop.mobile_ip[customer]],
        public_ip(pop, rng, len(customer)),
    ).astype(np.int32)


def currencies(
    category: NDArray[np.int8],
    trip_currency: NDArray[np.int8],
    rng: np.random.Generator,
) -> NDArray[np.int8]:
    """USD, a trip's local currency for most in-person payments abroad, or a foreign web shop's."""
    n = len(category)
    abroad = (trip_currency > 0) & (rng.random(n) < np.where(IS_NET[category], 0.5, 0.85))
    foreign_shop = IS_NET[category] & (rng.random(n) < FOREIGN_ONLINE_P)
    shop_currency = rng.integers(1, 4, size=n).astype(np.int8)
    return np.where(abroad, trip_currency, np.where(foreign_shop, shop_currency, 0)).astype(np.int8)


def legit_columns(
    pop: Population,
    rng: np.random.Generator,
    customer: NDArray[np.int32],
    category: NDArray[np.int8],
    time: NDArray[np.float64],
    frac: NDArray[np.float64],
) -> Columns:
    """Everything else about legit purchases whose customer, category and time are known."""
    n = len(customer)
    _, weekday = local_clock(time, pop.utc_offset_h[customer])
    usd = draw_amounts(pop.habits, rng, customer, category, weekday)
    usd = np.where(rng.random(n) < SPLURGE_P, usd * rng.uniform(3.0, 12.0, n), usd)
    travelling, trip_currency = pop.travelling(customer, time)
    currency = currencies(category, trip_currency, rng)
    ua = usual_device(pop, customer, frac, rng)
    ua = np.where(rng.random(n) < BORROWED_DEVICE_P, any_device(pop, rng, n), ua)
    email, address = customer_state(pop, customer, frac, rng)
    return Columns(
        customer=customer.astype(np.int32),
        time=time.astype(np.float64),
        category=category.astype(np.int8),
        amount=to_currency(usd, currency),
        currency=currency,
        ip=usual_ip(pop, customer, category, travelling, rng),
        user_agent=ua.astype(np.int32),
        email=email,
        phone=pop.phone[customer],
        address=address,
        kind=np.zeros(n, dtype=np.int8),
        label_delay=np.zeros(n),
    )


def history_slots(
    pop: Population, rng: np.random.Generator, n: int, start: float, end: float
) -> tuple[NDArray[np.int32], NDArray[np.int8], NDArray[np.float64]]:
    """(customer, category, time) of ``n`` purchases in [start, end), following habits.

    Customer and category are drawn in proportion to habit rates; the local day follows the
    category's weekday and holiday-season pattern; the local hour follows the customer's
    rhythm for that category.
    """
    rate = pop.habits.rate
    flat = rng.choice(rate.size, size=n, p=(rate / rate.sum()).ravel())
    customer = (flat // N_CATEGORIES).astype(np.int32)
    category = (flat % N_CATEGORIES).astype(np.int8)

    day0 = int(start // SECONDS_PER_DAY)
    n_days = int(np.ceil((end - start) / SECONDS_PER_DAY)) + 1
    dates = np.arange(day0, day0 + n_days).astype("datetime64[D]")
    weekday = (np.arange(day0, day0 + n_days) + 3) % 7
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    holidays = ((month == 11) & (dom >= 20)) | ((month == 12) & (dom <= 24))
    day_w = WEEKDAY[:, weekday] * np.where(holidays[None, :], SEASON[:, None], 1.0)
    day_cdf = np.cumsum(day_w, axis=1) / day_w.sum(axis=1, keepdims=True)
    day = grouped_inverse_cdf(rng, category.astype(np.int64), day_cdf)
    hour = draw_hours(rng, pop.habits.profile[customer], category)
    second = rng.integers(0, 3600, size=n)
    local = (day0 + day) * SECONDS_PER_DAY + hour * 3600 + second
    time = local - pop.utc_offset_h[customer] * 3600.0
    span = end - start
    return customer, category, start + np.floor((time - start) % span)


def micro_bursts(
    pop: Population, rng: np.random.Generator, seeds: Columns, n_extra: int, end: float
) -> Columns:
    """``n_extra`` tiny purchases following some of ``seeds`` within minutes, same device.

    In-app purchases and transit taps look like card testing in every raw field; only the
    device (the customer's own) and the customer's history tell them apart.
    """
    if n_extra <= 0 or len(seeds) == 0:
        return Columns.empty()
    early = seeds.time < end - 3600
    eligible = np.flatnonzero(pop.micro_buyer[seeds.customer] & early)
    if len(eligible) == 0:  # a tiny population or period: any purchase will do
        eligible = np.flatnonzero(early) if early.any() else np.arange(len(seeds))
    sizes = rng.integers(1, 6, size=n_extra)  # more than enough bursts; trimmed below
    cut = int(np.searchsorted(np.cumsum(sizes), n_extra)) + 1
    sizes = sizes[:cut]
    sizes[-1] -= int(sizes.sum()) - n_extra
    origin = np.repeat(rng.choice(eligible, size=len(sizes)), sizes)
    offset = group_cumsum(rng.exponential(90.0, size=n_extra), sizes)
    base = seeds.take(origin)
    transit = rng.random(n_extra) < 0.3
    category = np.where(transit, CAT["gas_transport"], CAT["misc_net"]).astype(np.int8)
    price = np.array([0.99, 1.99, 2.99, 4.99])[rng.integers(0, 4, size=n_extra)]
    price = np.where(rng.random(n_extra) < 0.4, np.round(rng.uniform(0.5, 5.0, n_extra), 2), price)
    price = np.where(
        transit, np.array([2.75, 2.9, 1.5, 3.25])[rng.integers(0, 4, size=n_extra)], price
    )
    return Columns(
        customer=base.customer,
        time=np.minimum(np.floor(base.time + 30.0 + offset), end - 1),
        category=category,
        amount=to_currency(price, base.currency),
        currency=base.currency,
        ip=base.ip,
        user_agent=base.user_agent,
        email=base.email,
        phone=base.phone,
        address=base.address,
        kind=base.kind,
        label_delay=base.label_delay,
    )


def legit_history(
    pop: Population, rng: np.random.Generator, n: int, start: float, end: float
) -> Columns:
    """``n`` legit purchases in [start, end), unordered."""
    n_extra = round(n * MICRO_SHARE) if n >= 100 else 0
    customer, category, time = history_slots(pop, rng, n - n_extra, start, end)
    frac = (time - start) / (end - start)
    base = legit_columns(pop, rng, customer, category, time, frac)
    return Columns.concat([base, micro_bursts(pop, rng, base, n_extra, end)])
