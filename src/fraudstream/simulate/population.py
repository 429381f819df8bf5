"""The customer population, built with Faker once and then only indexed.

Faker is slow per call (tens of microseconds), so it is used once per customer (or once per
pool entry) to build tables; every later draw is a numpy index into them. The population holds
each customer's identity (name, job, age, card BIN, e-mail, phone, home address in a coherent
city/state/zip/lat/long), their usual devices and IPs, their habits, and the legitimate changes
that will happen to them (moving house, a new e-mail, a new phone or laptop, trips) so that
novelty is common in legitimate traffic too. Fraudsters draw from the same shared tables: the
public/VPN IPs travellers use, everyone's user-agent mix, and (account takeovers) the e-mail,
phone and address of a mule, who is an ordinary customer too.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
from faker import Faker
from numpy.typing import NDArray

from fraudstream.errors import InvalidInput
from fraudstream.simulate.bins import draw_bins
from fraudstream.simulate.columns import SECONDS_PER_DAY
from fraudstream.simulate.geo import us_places
from fraudstream.simulate.habits import Habits, build_habits

ObjectArray = NDArray[np.object_]

MAX_DEVICES = 3
_DEVICE_COUNT_P = (0.45, 0.40, 0.15)  # customers with 1, 2, 3 usual devices
_TRIP_CYCLE_DAYS = 365.0
_TRIP_CURRENCY_P = (0.0, 0.5, 0.3, 0.2)  # international trips: EUR, GBP, CAD
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


@dataclass(frozen=True, eq=False)
class AddressBook:
    """Billing addresses as parallel arrays; customers refer to rows by index."""

    street: ObjectArray
    city: ObjectArray
    state: ObjectArray
    zip: ObjectArray
    latitude: NDArray[np.float64]
    longitude: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.street)


@dataclass(frozen=True, eq=False)
class Population:
    """Customers and the shared tables their transactions index into.

    Times of one-off changes (``*_at``) are fractions of a history's period (NaN: never), so a
    history of any length shows them and a live stream (after the history) sees their result.
    """

    seed: int
    customer_id: ObjectArray
    name: ObjectArray
    job: ObjectArray
    age: NDArray[np.int16]
    card_bin: NDArray[np.int64]
    utc_offset_h: NDArray[np.float64]
    habits: Habits
    addresses: AddressBook
    home: NDArray[np.int32]
    second_home: NDArray[np.int32]  # -1: none; used now and then (family, holiday home)
    moved_to: NDArray[np.int32]  # -1: does not move
    move_at: NDArray[np.float64]
    emails: ObjectArray
    email: NDArray[np.int32]
    new_email: NDArray[np.int32]  # -1: keeps the e-mail
    new_email_at: NDArray[np.float64]
    phones: ObjectArray
    phone: NDArray[np.int32]
    user_agents: ObjectArray
    user_agent_p: NDArray[np.float64]  # popularity of each user agent
    devices: NDArray[np.int32]  # (customers, MAX_DEVICES), -1 padded
    n_devices: NDArray[np.int8]
    new_device: NDArray[np.int32]  # -1: none; replaces the main device
    new_device_at: NDArray[np.float64]
    ips: ObjectArray
    home_ip: NDArray[np.int32]
    mobile_ip: NDArray[np.int32]  # carrier NAT address, shared by many customers
    public_ips: NDArray[np.int32]  # hotel/cafe wifi, VPNs, proxies: travellers and fraudsters
    trip_start: NDArray[np.float64]  # (customers, 3) day of a yearly cycle, NaN: no trip
    trip_end: NDArray[np.float64]
    trip_currency: NDArray[np.int8]  # (customers, 3) index into CURRENCIES (0: domestic)
    micro_buyer: NDArray[np.bool_]  # makes bursts of tiny in-app / transit purchases
    traveller: NDArray[np.bool_]  # has at least one trip

    def __len__(self) -> int:
        return len(self.customer_id)

    def travelling(
        self, customer: NDArray[np.int32], time: NDArray[np.float64]
    ) -> tuple[NDArray[np.bool_], NDArray[np.int8]]:
        """Whether each customer is on a trip at ``time``, and the trip's currency."""
        on_trip = np.zeros(len(customer), dtype=bool)
        currency = np.zeros(len(customer), dtype=np.int8)
        rows = np.flatnonzero(self.traveller[customer])  # most customers have no trip
        c = customer[rows]
        d = ((time[rows] / SECONDS_PER_DAY) % _TRIP_CYCLE_DAYS)[:, None]
        start, end = self.trip_start[c], self.trip_end[c]
        with np.errstate(invalid="ignore"):
            inside = ((start <= d) & (d < end)) | (d + _TRIP_CYCLE_DAYS < end)
        on_trip[rows] = inside.any(axis=1)
        currency[rows] = np.where(
            on_trip[rows], self.trip_currency[c, np.argmax(inside, axis=1)], 0
        )
        return on_trip, currency


def default_customers(n_events: int) -> int:
    """About a hundred events per customer, within 200-20,000 customers."""
    return int(min(20_000, max(200, n_events // 100)))


@lru_cache(maxsize=4)
def build_population(n_customers: int, seed: int = 0) -> Population:
    """The population for ``seed`` (cached: Faker runs once per size and seed)."""
    if n_customers < 1:
        raise InvalidInput(f"n_customers must be at least 1, got {n_customers}")
    if n_customers > 1_000_000:
        raise InvalidInput(f"n_customers must be at most 1,000,000, got {n_customers}")
    return _Builder(n_customers, seed).build()


class _Builder:
    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.seed = seed
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 0x9E0]))
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        pool = int(np.clip(n // 4, 200, 3000))
        self.first_names = np.array([self.fake.first_name() for _ in range(pool)], dtype=object)
        self.last_names = np.array([self.fake.last_name() for _ in range(pool)], dtype=object)
        self.street_names = np.array([self.fake.street_name() for _ in range(pool)], dtype=object)

    def build(self) -> Population:
        n, rng, fake = self.n, self.rng, self.fake
        age = np.clip(np.round(rng.normal(47.0, 17.0, n)), 18, 92).astype(np.int16)
        first = self.first_names[rng.integers(len(self.first_names), size=n)]
        last = self.last_names[rng.integers(len(self.last_names), size=n)]
        name = np.array([f"{f} {s}" for f, s in zip(first, last, strict=True)], dtype=object)
        job = np.array(
            [
                "Retired" if a >= 67 and u < 0.7 else fake.job()
                for a, u in zip(age, rng.random(n), strict=True)
            ],
            dtype=object,
        )

        # Addresses: homes, second homes, new homes of movers.
        places = us_places()
        home_place = rng.integers(len(places), size=n)
        has_second = rng.random(n) < 0.06
        moves = rng.random(n) < 0.05
        place_idx = np.concatenate(
            [
                home_place,
                rng.integers(len(places), size=int(has_second.sum())),
                rng.integers(len(places), size=int(moves.sum())),
            ]
        )
        addresses = self._addresses(place_idx)
        home = np.arange(n, dtype=np.int32)
        second_home = np.full(n, -1, dtype=np.int32)
        second_home[has_second] = n + np.arange(int(has_second.sum()), dtype=np.int32)
        moved_to = np.full(n, -1, dtype=np.int32)
        moved_to[moves] = n + int(has_second.sum()) + np.arange(int(moves.sum()), dtype=np.int32)
        utc_offset_h = np.array([places[i].utc_offset_h for i in home_place])

        # E-mails: name-based mostly; some customers change theirs.
        used: set[str] = set()
        emails = [self._email(f, s, int(a), used) for f, s, a in zip(first, last, age, strict=True)]
        changes_email = rng.random(n) < 0.04
        new_email = np.full(n, -1, dtype=np.int32)
        for i in np.flatnonzero(changes_email):
            new_email[i] = len(emails)
            emails.append(self._email(first[i], last[i], int(age[i]), used))

        phones = [fake.phone_number() for _ in range(n)]

        # Devices: a popularity-weighted pool of user agents shared by everyone.
        n_ua = int(np.clip(n // 10, 100, 600))
        user_agents = np.array([fake.user_agent() for _ in range(n_ua)], dtype=object)
        popularity = 1.0 / np.arange(1, n_ua + 1) ** 1.1
        user_agent_p = popularity / popularity.sum()
        n_devices = (rng.choice(MAX_DEVICES, size=n, p=_DEVICE_COUNT_P) + 1).astype(np.int8)
        devices = rng.choice(n_ua, size=(n, MAX_DEVICES), p=user_agent_p).astype(np.int32)
        devices[np.arange(MAX_DEVICES)[None, :] >= n_devices[:, None]] = -1
        gets_device = rng.random(n) < 0.25
        new_device = np.where(gets_device, rng.choice(n_ua, size=n, p=user_agent_p), -1)

        # IPs: own home line, a shared carrier NAT address, and shared public/VPN addresses.
        n_carrier = max(20, n // 50)
        n_public = max(100, n // 4)
        home_ips = [fake.ipv4_public() for _ in range(n)]
        carrier = [
            _normal_ip(fake.ipv6()) if u < 0.4 else fake.ipv4_public()
            for u in rng.random(n_carrier)
        ]
        public = [fake.ipv4_public() for _ in range(n_public)]
        ips = np.array(home_ips + carrier + public, dtype=object)
        mobile_ip = (n + rng.integers(n_carrier, size=n)).astype(np.int32)
        public_ips = np.arange(n + n_carrier, n + n_carrier + n_public, dtype=np.int32)

        # Trips: 0-3 a year, 2-12 days, a fifth of them abroad.
        n_trips = np.minimum(rng.poisson(rng.gamma(1.0, 0.8, size=n)), 3)
        has_trip = np.arange(3)[None, :] < n_trips[:, None]
        trip_start = np.where(has_trip, rng.uniform(0, _TRIP_CYCLE_DAYS, (n, 3)), np.nan)
        trip_end = trip_start + 2 + rng.geometric(0.2, (n, 3)).clip(max=10)
        abroad = rng.random((n, 3)) < 0.2
        trip_currency = np.where(abroad, rng.choice(4, size=(n, 3), p=_TRIP_CURRENCY_P), 0)

        def at(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
            return np.where(mask, rng.uniform(0.05, 0.95, size=n), np.nan)

        population = Population(
            seed=self.seed,
            customer_id=np.array([f"cust-{i:07d}" for i in range(n)], dtype=object),
            name=name,
            job=job,
            age=age,
            card_bin=draw_bins(rng, n),
            utc_offset_h=utc_offset_h,
            habits=build_habits(age, rng),
            addresses=addresses,
            home=home,
            second_home=second_home,
            moved_to=moved_to,
            move_at=at(moves),
            emails=np.array(emails, dtype=object),
            email=np.arange(n, dtype=np.int32),
            new_email=new_email,
            new_email_at=at(changes_email),
            phones=np.array(phones, dtype=object),
            phone=np.arange(n, dtype=np.int32),
            user_agents=user_agents,
            user_agent_p=user_agent_p,
            devices=devices,
            n_devices=n_devices,
            new_device=new_device.astype(np.int32),
            new_device_at=at(gets_device),
            ips=ips,
            home_ip=np.arange(n, dtype=np.int32),
            mobile_ip=mobile_ip,
            public_ips=public_ips,
            trip_start=trip_start,
            trip_end=trip_end,
            trip_currency=trip_currency.astype(np.int8),
            micro_buyer=rng.random(n) < 0.12,
            traveller=n_trips > 0,
        )
        _freeze(population)
        return population

    def _addresses(self, place_idx: NDArray[np.int64]) -> AddressBook:
        places = us_places()
        rng, fake = self.rng, self.fake
        m = len(place_idx)
        number = rng.integers(1, 10_000, size=m) * np.where(rng.random(m) < 0.3, 10, 1)
        street_name = self.street_names[rng.integers(len(self.street_names), size=m)]
        unit = rng.random(m) < 0.25
        street = np.array(
            [
                f"{num} {sname}" + (f" Apt. {num % 900 + 100}" if u else "")
                for num, sname, u in zip(number, street_name, unit, strict=True)
            ],
            dtype=object,
        )
        state = np.array([places[i].state for i in place_idx], dtype=object)
        # Within ~3 km of the city centre: neighbours differ but stay in the same city.
        lat = np.array([places[i].latitude for i in place_idx]) + rng.normal(0, 0.02, m)
        lon = np.array([places[i].longitude for i in place_idx]) + rng.normal(0, 0.025, m)
        return AddressBook(
            street=street,
            city=np.array([places[i].city for i in place_idx], dtype=object),
            state=state,
            zip=np.array([fake.zipcode_in_state(s) for s in state], dtype=object),
            latitude=np.round(lat, 6),
            longitude=np.round(lon, 6),
        )

    def _email(self, first: str, last: str, age: int, used: set[str]) -> str:
        f = _NOT_ALNUM.sub("", first.lower())
        s = _NOT_ALNUM.sub("", last.lower())
        style = self.rng.random()
        if style < 0.15:
            return self._handle_email(used)
        if style < 0.45:
            local = f"{f}.{s}"
        elif style < 0.6:
            local = f"{f}{s}"
        elif style < 0.75:
            local = f"{f[:1]}{s}"
        elif style < 0.8:
            local = f"{f}_{s}"
        elif style < 0.9:
            local = f"{f}.{s}{self.rng.integers(1, 100)}"
        else:
            local = f"{f}{s}{(2025 - age) % 100:02d}"
        domain = (
            self.fake.free_email_domain() if self.rng.random() < 0.85 else self.fake.domain_name()
        )
        return _unique(f"{local}@{domain}", used, self.rng)

    def _handle_email(self, used: set[str]) -> str:
        local = _NOT_ALNUM.sub("", self.fake.user_name().lower()) or "user"
        return _unique(f"{local}@{self.fake.free_email_domain()}", used, self.rng)


def _unique(email: str, used: set[str], rng: np.random.Generator) -> str:
    while email in used:
        local, domain = email.split("@", 1)
        email = f"{local}{rng.integers(0, 10)}@{domain}"
    used.add(email)
    return email


def _normal_ip(text: str) -> str:
    # The transaction schema stores IPs in canonical form; keep the pool canonical too.
    return str(ipaddress.ip_address(text))


def _freeze(population: Population) -> None:
    # The population is cached and shared: make accidental mutation an error.
    for holder in (population, population.habits, population.addresses):
        for f in fields(holder):
            value = getattr(holder, f.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
