"""A live transaction stream: paced by a clock, with bursts, and fraud injected.

The stream continues the customers of :func:`~fraudstream.simulate.generate_history` (same seed
and ``n_customers``, or pass ``population=history.population``): who buys depends on each
customer's local hour and weekday, amounts and devices follow their habits, and fraud incidents
unfold over their real duration (a spree over an hour, a takeover over hours). The ground truth
travels *next to* each record, never inside it, so a pipeline only ever sees the record.

Pacing is Poisson at ``rate_per_s``; now and then a :class:`Burst` multiplies the rate for a few
seconds (a flash sale, a bot wave). ``clock``/``sleep`` are injectable so tests use a
:class:`~fraudstream.simulate.clock.FakeClock`.

When simulated time is scaled (``time_scale`` other than 1), a burst speeds it up by its factor
too: the pipeline sees the spike, while each customer stays as busy as in the history. Denser
per-customer traffic would look like a spree to a model trained on the history: when bursts did
not, 5% of legitimate live events scored >= 900 instead of the calibrated 2% (see
benchmarks/bench_live_quality.py). At real time (scale 1) event time is the wall clock, so a
burst is denser traffic.

Simulated time can run faster than the clock (``time_scale``). At real time, each customer buys
``rate_per_s / n_customers`` times a second, far above any habit; ``time_scale="natural"``
speeds simulated time up until the population's habits produce exactly ``rate_per_s``, so
per-customer velocity, hours and incident durations stay plausible.
"""

from __future__ import annotations

import heapq
import math
import time as _time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import numpy as np

from fraudstream.errors import InvalidInput
from fraudstream.events import format_time
from fraudstream.simulate.columns import CURRENCIES, SECONDS_PER_DAY, Columns, local_clock
from fraudstream.simulate.fraud import (
    KINDS,
    MEAN_SIZE,
    FraudKind,
    check_mix,
    fraud_columns,
    incident_sizes,
    victim_weights,
)
from fraudstream.simulate.habits import CATEGORIES, HOUR_P, N_CATEGORIES, WEEKDAY
from fraudstream.simulate.history import DEFAULT_FRAUD_RATE, LEGIT, Truth, event_ids
from fraudstream.simulate.legit import MICRO_SHARE, legit_columns, micro_bursts
from fraudstream.simulate.population import Population, build_population

_LEGIT_BATCH = 256
_ID_BATCH = 1024
_MICRO_MEAN_SIZE = 3.0
_MAX_WINDOWS = 1000


@dataclass(frozen=True, slots=True)
class Burst:
    """Rate spikes: about every ``every_s`` seconds, ``factor`` x the rate for ``duration_s``."""

    every_s: float = 120.0
    duration_s: float = 5.0
    factor: float = 10.0

    def __post_init__(self) -> None:
        for name in ("every_s", "duration_s", "factor"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InvalidInput(f"Burst.{name} must be a positive number, got {value}")


#: Bursts on by default: about every two minutes, 10x the rate for 5 seconds.
DEFAULT_BURST = Burst()

_Pending = tuple[float, int, Columns, int, Truth]


class LiveGenerator:
    """Iterate ``(transaction dict, Truth)`` pairs in real (or fake) time.

    ``clock`` returns epoch seconds (``time.time``). Event times are simulated time: ``start``
    (default: the clock's time at the first event) plus elapsed clock time x ``time_scale``
    (x the burst factor during a burst, when scaled).
    ``limit`` stops after that many events. If the consumer falls more than ``max_lag_s``
    behind, the backlog is dropped instead of flooding it, as a real source would.
    """

    def __init__(
        self,
        rate_per_s: float,
        *,
        burst: Burst | None = DEFAULT_BURST,
        seed: int = 0,
        n_customers: int = 2_000,
        fraud_rate: float = DEFAULT_FRAUD_RATE,
        fraud_mix: Mapping[FraudKind, float] | None = None,
        population: Population | None = None,
        clock: Callable[[], float] = _time.time,
        sleep: Callable[[float], None] = _time.sleep,
        max_lag_s: float = 1.0,
        limit: int | None = None,
        time_scale: float | Literal["natural"] = 1.0,
        start: datetime | float | None = None,
    ) -> None:
        if not (math.isfinite(rate_per_s) and rate_per_s > 0):
            raise InvalidInput(f"rate_per_s must be a positive number, got {rate_per_s}")
        if not 0.0 <= fraud_rate <= 0.5:
            raise InvalidInput(f"fraud_rate must be within 0..0.5, got {fraud_rate}")
        if not max_lag_s >= 0:
            raise InvalidInput(f"max_lag_s must be >= 0, got {max_lag_s}")
        self.rate_per_s = float(rate_per_s)
        self.burst = burst
        self.population = population or build_population(n_customers, seed)
        #: Simulated seconds per clock second.
        self.time_scale = self._scale(time_scale)
        self._sim_start = start.timestamp() if isinstance(start, datetime) else start
        self._seed = seed
        self._clock = clock
        self._sleep = sleep
        self._max_lag = max_lag_s
        self._limit = limit
        streams = np.random.SeedSequence([seed, 2]).spawn(2)
        self._rng = np.random.default_rng(streams[0])
        self._burst_rng = np.random.default_rng(streams[1])

        mix = check_mix(fraud_mix)
        per_incident = np.array([mix.get(k, 0.0) / MEAN_SIZE[k] for k in KINDS])
        self._incident_p = fraud_rate * float(per_incident.sum())
        self._kind_p = per_incident / per_incident.sum()
        micro_share = float(self.population.micro_buyer.mean()) or 1.0
        self._micro_p = MICRO_SHARE / _MICRO_MEAN_SIZE / micro_share

        self._start: float | None = None
        self._due = 0.0
        self._sim = 0.0  # simulated time of ``_due``
        self._window = (-math.inf, -math.inf)
        #: Recent burst windows as (start, end) clock times.
        self.burst_windows: deque[tuple[float, float]] = deque(maxlen=_MAX_WINDOWS)
        self._pending: list[_Pending] = []
        self._seq = 0
        self._batch = Columns.empty()
        self._batch_pos = 0
        self._batch_hour = -1
        self._ids: list[str] = []
        self._next_id = 0
        #: Events emitted so far.
        self.emitted = 0

    def __iter__(self) -> Iterator[tuple[dict[str, Any], Truth]]:
        return self

    def __next__(self) -> tuple[dict[str, Any], Truth]:
        if self._limit is not None and self.emitted >= self._limit:
            raise StopIteration
        due, sim = self._wait()
        cols, row, truth = self._pick(sim)
        record = self._record(cols, row, sim)
        factor = self.burst.factor if self.burst is not None and self.in_burst(due) else 1.0
        gap = float(self._rng.exponential(1.0 / (self.rate_per_s * factor)))
        self._due = due + gap
        self._sim = sim + gap * self.time_scale * (factor if self.time_scale != 1.0 else 1.0)
        self.emitted += 1
        return record, truth

    def records(
        self, truth: Callable[[str, Truth], None] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Only the records; each event's truth goes to ``truth(event_id, Truth)`` if given."""
        for record, label in self:
            if truth is not None:
                truth(record["event_id"], label)
            yield record

    def in_burst(self, t: float) -> bool:
        """Whether clock time ``t`` falls in a burst (windows are drawn as time advances)."""
        if self.burst is None or self._start is None:
            return False
        while t >= self._window[1]:
            begin = max(self._window[1], self._start) + float(
                self._burst_rng.exponential(self.burst.every_s)
            )
            self._window = (begin, begin + self.burst.duration_s)
            self.burst_windows.append(self._window)
        return t >= self._window[0]

    def _wait(self) -> tuple[float, float]:
        """Sleep until the next event is due: (clock time, simulated time)."""
        now = self._clock()
        if self._start is None:
            self._start = self._due = now
            self._sim = self._start if self._sim_start is None else self._sim_start
        elif now - self._due > self._max_lag:
            self._sim += (now - self._due) * self.time_scale  # skip ahead, simulated time too
            self._due = now
        if self._due > now:
            self._sleep(self._due - now)
        return self._due, self._sim

    def _scale(self, time_scale: float | Literal["natural"]) -> float:
        if time_scale == "natural":
            per_second = float(self.population.habits.daily_rate.sum()) / SECONDS_PER_DAY
            return self.rate_per_s / per_second
        if not (math.isfinite(time_scale) and time_scale > 0):
            raise InvalidInput(
                f"time_scale must be a positive number or 'natural', got {time_scale}"
            )
        return float(time_scale)

    def _pick(self, due: float) -> tuple[Columns, int, Truth]:
        """The next event at simulated time ``due``: a due scheduled one, else a legit one."""
        if self._pending and self._pending[0][0] <= due:
            _, _, cols, row, truth = heapq.heappop(self._pending)
            return cols, row, truth
        if self._rng.random() < self._incident_p:
            self._start_incident(due)
        hour = int(due // 3600)
        if self._batch_pos >= len(self._batch) or hour != self._batch_hour:
            self._batch = self._legit_batch(due)
            self._batch_pos, self._batch_hour = 0, hour
        row = self._batch_pos
        self._batch_pos += 1
        customer = self._batch.customer[row]
        if self.population.micro_buyer[customer] and self._rng.random() < self._micro_p:
            seed_row = replace(self._batch.take(np.array([row])), time=np.array([due]))
            size = int(self._rng.integers(1, 6))
            follow = micro_bursts(self.population, self._rng, seed_row, size, math.inf)
            self._push(follow, LEGIT)
        return self._batch, row, LEGIT

    def _legit_batch(self, t: float) -> Columns:
        """Purchases likely at ``t``: customer and category weighted by local hour and weekday."""
        pop = self.population
        hour, weekday = local_clock(np.full(len(pop), t), pop.utc_offset_h)
        k = np.arange(N_CATEGORIES)[None, :]
        w = (
            pop.habits.rate
            * HOUR_P[pop.habits.profile[:, None], k, hour[:, None]]
            * WEEKDAY[k, weekday[:, None]]
        )
        cdf = np.cumsum(w.ravel())
        flat = np.searchsorted(cdf, self._rng.random(_LEGIT_BATCH) * cdf[-1], side="right")
        flat = np.minimum(flat, w.size - 1)
        customer = (flat // N_CATEGORIES).astype(np.int32)
        category = (flat % N_CATEGORIES).astype(np.int8)
        times = np.full(_LEGIT_BATCH, t)
        return legit_columns(
            pop, self._rng, customer, category, times, np.full(_LEGIT_BATCH, np.inf)
        )

    def _start_incident(self, t: float) -> None:
        kind = KINDS[int(self._rng.choice(len(KINDS), p=self._kind_p))]
        victim = self._rng.choice(len(self.population), p=victim_weights(self.population, kind, t))
        start = np.array([t + float(self._rng.uniform(1.0, 30.0))])
        sizes = incident_sizes(kind, self._rng, 1)
        cols = fraud_columns(
            self.population, self._rng, kind, np.array([victim], dtype=np.int32), start, sizes, None
        )
        self._push(cols, Truth(True, kind))

    def _push(self, cols: Columns, truth: Truth) -> None:
        for row in range(len(cols)):
            self._seq += 1
            heapq.heappush(self._pending, (float(cols.time[row]), self._seq, cols, row, truth))

    def _event_id(self) -> str:
        if not self._ids:
            self._ids = list(event_ids(self._seed, 1, _ID_BATCH, self._next_id))[::-1]
            self._next_id += _ID_BATCH
        return str(self._ids.pop())

    def _record(self, cols: Columns, row: int, t: float) -> dict[str, Any]:
        pop, book = self.population, self.population.addresses
        c, a = int(cols.customer[row]), int(cols.address[row])
        return {
            "transaction_amt": float(cols.amount[row]),
            "email_address": pop.emails[cols.email[row]],
            "ip_address": pop.ips[cols.ip[row]],
            "transaction_currency": CURRENCIES[cols.currency[row]],
            "event_id": self._event_id(),
            "entity_id": pop.customer_id[c],
            "event_time": format_time(t),
            "billing_longitude": float(book.longitude[a]),
            "billing_state": book.state[a],
            "user_agent": pop.user_agents[cols.user_agent[row]],
            "billing_street": book.street[a],
            "billing_city": book.city[a],
            "card_bin": int(pop.card_bin[c]),
            "customer_name": pop.name[c],
            "product_category": CATEGORIES[cols.category[row]],
            "customer_job": pop.job[c],
            "phone": pop.phones[cols.phone[row]],
            "billing_latitude": float(book.latitude[a]),
            "billing_zip": book.zip[a],
        }
