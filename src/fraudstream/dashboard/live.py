"""The live page's numbers: one snapshot of store queries per view, shared by every viewer.

Browsers poll every few seconds; a snapshot is computed at most once per ``ttl`` for a given
view, whatever the number of open dashboards, so watching never loads the store more than one
viewer would. When a snapshot is slow (a wide range over a busy store scans many rows), the
next one waits ``LOAD_FACTOR`` times as long as it took: the dashboard then refreshes less
often instead of keeping a core busy next to the pipeline.

Throughput is measured on the wall clock (decisions arriving in the store per second),
because event time may run faster than real time in a simulation. For the same reason the
latency shown is a setting (``latency_metric``): ``ttdf`` compares the decision with the event
time, ``queue_time`` with the input's append to the log.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from fraudstream.dashboard.config import LATENCY_LABELS, LatencyLabel
from fraudstream.dashboard.filters import ViewFilter, bucket_for
from fraudstream.dashboard.lag import LagReading, PrometheusLag
from fraudstream.sinks import (
    DecisionFilter,
    DecisionStore,
    DecisionSummary,
    Group,
    LatencyPoint,
    Quality,
    QualityPoint,
    ScoreBin,
    SeriesPoint,
    Totals,
)
from fraudstream.sinks.queries import LatencyMetric, TruthSource

__all__ = ["Choices", "LiveSnapshot", "LiveSource", "RateMeter"]

#: Throughput is the growth of the store over about this many seconds.
RATE_WINDOW: Final = 10.0
CHOICES_TTL: Final = 300.0
#: A snapshot that took t seconds is reused for at least LOAD_FACTOR * t seconds.
LOAD_FACTOR: Final = 4.0
LATENCY_PERCENTILES: Final = (50.0, 90.0, 99.0)


class RateMeter:
    """Decisions per second from successive counts of the store, on the wall clock."""

    def __init__(self, window: float = RATE_WINDOW, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque(maxlen=600)
        self.history: deque[float | None] = deque(maxlen=60)

    def add(self, count: int) -> float | None:
        now = self._clock()
        self._samples.append((now, count))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()
        first_t, first_c = self._samples[0]
        rate = (count - first_c) / (now - first_t) if now - first_t >= 0.5 else None
        self.history.append(rate)
        return rate


@dataclass(frozen=True)
class Choices:
    """Values the filters offer: what the store has seen recently."""

    currencies: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveSnapshot:
    view: ViewFilter
    #: Event time of the newest decision (the range ends there); None: the store is empty.
    latest: float | None
    start: float
    end: float
    bucket: float
    totals: Totals
    rate: float | None
    rate_history: tuple[float | None, ...]
    series: tuple[SeriesPoint, ...]
    currencies: tuple[Group, ...]
    categories: tuple[Group, ...]
    states: tuple[Group, ...]
    scores: tuple[ScoreBin, ...]
    #: Which latency ``latency`` and ``latency_series`` measure (see ``latency_label``).
    latency_metric: LatencyMetric
    latency: LatencyPoint | None
    latency_series: tuple[LatencyPoint, ...]
    #: ``simulator`` or ``analyst``: what precision and recall are measured against.
    truth: TruthSource
    quality_block: Quality
    quality_flagged: Quality
    quality_series: tuple[QualityPoint, ...]
    quality_bucket: float
    lag: LagReading | None
    lag_history: tuple[LagReading, ...]
    recent_blocked: tuple[DecisionSummary, ...]
    computed_at: float = field(default_factory=time.time)
    took_ms: float = 0.0

    @property
    def latency_label(self) -> LatencyLabel:
        return LATENCY_LABELS[self.latency_metric]

    @property
    def reuse_seconds(self) -> float:
        """How long this snapshot is served before the next one (see LOAD_FACTOR)."""
        return LOAD_FACTOR * self.took_ms / 1000.0


class LiveSource:
    """Computes and caches snapshots; thread-safe (one computation at a time)."""

    def __init__(
        self,
        store: DecisionStore,
        *,
        ttl: float = 2.0,
        lag: PrometheusLag | None = None,
        latency_metric: LatencyMetric = "ttdf",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if latency_metric not in LATENCY_LABELS:
            raise ValueError(f"unknown latency metric {latency_metric!r}")
        self.store = store
        self.ttl = ttl
        self.lag = lag
        self.latency_metric: LatencyMetric = latency_metric
        self.rate = RateMeter()
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[object, ...], tuple[float, LiveSnapshot]] = {}
        self._choices: tuple[float, Choices] | None = None

    def snapshot(self, view: ViewFilter) -> LiveSnapshot:
        with self._lock:
            now = self._clock()
            cached = self._cache.get(view.key)
            if cached is not None and now - cached[0] < max(self.ttl, cached[1].reuse_seconds):
                return cached[1]
            snap = self._compute(view)
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[view.key] = (self._clock(), snap)
            return snap

    def choices(self) -> Choices:
        with self._lock:
            now = self._clock()
            if self._choices is not None and now - self._choices[0] < CHOICES_TTL:
                return self._choices[1]
            latest = self._latest()
            where = None if latest is None else DecisionFilter(start=latest - 7 * 86400.0)

            def values(field: str) -> tuple[str, ...]:
                groups = self.store.breakdown(field, where, limit=50)  # type: ignore[arg-type]
                return tuple(sorted(g.value for g in groups if g.value))

            found = Choices(values("currency"), values("category"), values("detector_version"))
            self._choices = (now, found)
            return found

    def _latest(self) -> float | None:
        newest = self.store.recent(None, limit=1)
        return newest[0].event_time if newest else None

    def _compute(self, view: ViewFilter) -> LiveSnapshot:
        started = time.perf_counter()
        store = self.store
        rate = self.rate.add(store.count(None))
        latest = self._latest()
        where = view.where(latest if latest is not None else time.time())
        assert where.start is not None
        assert where.end is not None
        bucket = view.bucket
        quality_bucket = bucket_for(view.seconds, points=20)
        truth: TruthSource = "simulator"
        q_block = store.quality(where, ("block",), truth)
        if not q_block.labelled:
            truth = "analyst"
            q_block = store.quality(where, ("block",), truth)
        blocked: tuple[DecisionSummary, ...] = ()
        if not view.outcomes or "block" in view.outcomes:
            only_blocked = dataclasses.replace(where, outcomes=("block",))
            blocked = tuple(store.recent(only_blocked, limit=8))
        lag = self.lag.read() if self.lag is not None else None
        metric = self.latency_metric
        overall = store.latency(where, None, metric, LATENCY_PERCENTILES)
        return LiveSnapshot(
            view=view,
            latest=latest,
            start=where.start,
            end=where.end,
            bucket=bucket,
            totals=store.totals(where),
            rate=rate,
            rate_history=tuple(self.rate.history),
            series=tuple(store.timeseries(bucket, where, "outcome")),
            currencies=tuple(store.breakdown("currency", where, limit=10)),
            categories=tuple(store.breakdown("category", where, limit=20)),
            states=tuple(store.breakdown("billing_state", where, limit=80)),
            scores=tuple(store.score_histogram(where, 50.0)),
            latency_metric=metric,
            latency=overall[0] if overall else None,
            latency_series=tuple(store.latency(where, bucket, metric, LATENCY_PERCENTILES)),
            truth=truth,
            quality_block=q_block,
            quality_flagged=store.quality(where, ("block", "review"), truth),
            quality_series=tuple(store.quality_series(quality_bucket, where, ("block",), truth)),
            quality_bucket=quality_bucket,
            lag=lag,
            lag_history=tuple(self.lag.history) if self.lag is not None else (),
            recent_blocked=blocked,
            took_ms=(time.perf_counter() - started) * 1000.0,
        )
