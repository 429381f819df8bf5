"""Processor metrics: Prometheus text on an HTTP endpoint, and a one-line log summary.

Every :class:`PipelineMetrics` has its own :class:`~prometheus_client.CollectorRegistry`
(never the process-global one), so several processors or tests in one process never clash.

Exported (``GET /metrics`` on ``--metrics-port``):

* ``fraudstream_events_in_total`` — input messages consumed;
* ``fraudstream_decisions_total{outcome}`` — decision records written;
* ``fraudstream_dead_letters_total{kind}`` — inputs sent to the DLQ, by
  :class:`~fraudstream.stream.records.DeadLetterKind`;
* ``fraudstream_delivery_retries_total{step}`` — retried produce / flush / commit steps;
* ``fraudstream_consumer_lag`` — messages behind the end of the input topic on this
  processor's partitions (sum it over the group's processors);
* ``fraudstream_decision_latency_seconds`` — histogram: input produced -> decision written
  (the input message's timestamp to the moment its output was durably written / committed);
* ``fraudstream_scoring_seconds`` — histogram: time in the engine per event.

The log summary covers the time since the previous one: input rate, outcomes, dead letters,
decision latency p50/p99 (exact, from the interval's samples) and lag.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter as _Tally
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["LATENCY_BUCKETS", "MetricsServer", "PipelineMetrics", "percentile"]

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
SCORING_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
#: Latency samples kept per summary interval (beyond this the oldest half is dropped).
MAX_SAMPLES = 200_000


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of an ascending list by the nearest-rank method (0.0 if empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]


class PipelineMetrics:
    """Counters and histograms of one processor, plus the interval tallies of the log line."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events_in = Counter("fraudstream_events_in", "Input messages consumed", registry=r)
        self.decisions = Counter(
            "fraudstream_decisions", "Decision records written", ["outcome"], registry=r
        )
        self.dead_letters = Counter(
            "fraudstream_dead_letters",
            "Inputs written to the dead-letter topic",
            ["kind"],
            registry=r,
        )
        self.retries = Counter(
            "fraudstream_delivery_retries", "Retried delivery steps", ["step"], registry=r
        )
        self.lag = Gauge(
            "fraudstream_consumer_lag",
            "Messages behind the end of the input topic on this processor's partitions",
            registry=r,
        )
        self.latency = Histogram(
            "fraudstream_decision_latency_seconds",
            "Input produced -> decision written",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.scoring = Histogram(
            "fraudstream_scoring_seconds",
            "Engine time per event",
            buckets=SCORING_BUCKETS,
            registry=r,
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._since = clock()
        self._in = 0
        self._outcomes: _Tally[str] = _Tally()
        self._dlq = 0
        self._samples: list[float] = []
        self._lag: int | None = None
        #: Totals since start (handy for tests and the final log line).
        self.total_in = 0
        self.total_decisions = 0
        self.total_dead_letters = 0

    # -- recording

    def consumed(self, count: int) -> None:
        self.events_in.inc(count)
        with self._lock:
            self._in += count
            self.total_in += count

    def scored(self, seconds: float) -> None:
        self.scoring.observe(seconds)

    def written(
        self, outcomes: Iterable[str], dead: Iterable[str], latencies: Iterable[float]
    ) -> None:
        """Record one delivered batch: decision outcomes, dead-letter kinds, latencies (s)."""
        outcome_list = list(outcomes)
        dead_list = list(dead)
        lat = list(latencies)
        for outcome, n in _Tally(outcome_list).items():
            self.decisions.labels(outcome=outcome).inc(n)
        for kind, n in _Tally(dead_list).items():
            self.dead_letters.labels(kind=kind).inc(n)
        for value in lat:
            self.latency.observe(value)
        with self._lock:
            self._outcomes.update(outcome_list)
            self._dlq += len(dead_list)
            self.total_decisions += len(outcome_list)
            self.total_dead_letters += len(dead_list)
            self._samples.extend(lat)
            if len(self._samples) > MAX_SAMPLES:
                del self._samples[: len(self._samples) // 2]

    def retried(self, step: str) -> None:
        self.retries.labels(step=step).inc()

    def set_lag(self, total: int) -> None:
        self.lag.set(total)
        with self._lock:
            self._lag = total

    # -- the log line

    def due(self, interval: float) -> bool:
        return self._clock() - self._since >= interval

    def summary(self) -> str:
        """The line for the interval since the last call (which starts a new interval)."""
        with self._lock:
            now = self._clock()
            elapsed = max(now - self._since, 1e-9)
            count, outcomes, dlq = self._in, self._outcomes, self._dlq
            samples = sorted(self._samples)
            lag = self._lag
            self._since, self._in, self._outcomes, self._dlq, self._samples = (
                now,
                0,
                _Tally(),
                0,
                [],
            )
        shown = " ".join(f"{k}={v}" for k, v in sorted(outcomes.items())) or "none"
        p50 = percentile(samples, 0.50) * 1000
        p99 = percentile(samples, 0.99) * 1000
        return (
            f"{count / elapsed:,.0f} tx/s ({count} in {elapsed:.1f}s) | outcomes {shown}"
            f" | dlq {dlq} | latency p50 {p50:.1f} ms p99 {p99:.1f} ms"
            f" | lag {'?' if lag is None else lag}"
        )


class MetricsServer:
    """Serves a registry as Prometheus text on ``http://addr:port/metrics`` (port 0: any free)."""

    def __init__(self, registry: CollectorRegistry, port: int, addr: str = "127.0.0.1") -> None:
        server, thread = start_http_server(port, addr, registry=registry)
        self._server: WSGIServer = server
        self._thread = thread
        self.port: int = int(server.server_port)
        self.addr = addr

    @property
    def url(self) -> str:
        return f"http://{self.addr}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
