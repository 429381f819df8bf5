"""Consumer lag as the processors report it: their Prometheus ``fraudstream_consumer_lag``.

Asking the transport instead would mean joining the processors' consumer group (both
transports join on creating a consumer), which would move partitions away from them. Scraping
the gauge the processors already export is cheap and honest: it is their own view. With
several processors, pass every one's URL; the lag is the sum. Unreachable endpoints are
reported, never guessed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["LAG_METRIC", "LagReading", "PrometheusLag", "parse_lag"]

LAG_METRIC: Final = "fraudstream_consumer_lag"
HISTORY: Final = 180


@dataclass(frozen=True, slots=True)
class LagReading:
    """Total lag at ``at`` (epoch s); ``total`` None when no endpoint answered."""

    at: float
    total: int | None
    errors: tuple[str, ...] = ()


def parse_lag(text: str) -> int | None:
    """The summed ``fraudstream_consumer_lag`` samples of a Prometheus text page."""
    found = None
    for family in text_string_to_metric_families(text):
        if family.name == LAG_METRIC:
            found = (found or 0) + int(sum(s.value for s in family.samples))
    return found


class PrometheusLag:
    """Scrapes the processors' metrics at most every ``min_interval`` seconds."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float = 1.0,
        min_interval: float = 2.0,
        clock: Callable[[], float] = time.time,
        fetch: Callable[[str], str] | None = None,
    ) -> None:
        self.urls = tuple(urls)
        self.timeout = timeout
        self.min_interval = min_interval
        self._clock = clock
        self._fetch = fetch or self._http_get
        self._lock = threading.Lock()
        self.history: deque[LagReading] = deque(maxlen=HISTORY)

    def _http_get(self, url: str) -> str:
        response = httpx.get(url, timeout=self.timeout)
        response.raise_for_status()
        return response.text

    def read(self) -> LagReading:
        """The latest reading, scraping again when the last one is older than min_interval."""
        with self._lock:
            now = self._clock()
            if self.history and now - self.history[-1].at < self.min_interval:
                return self.history[-1]
            total: int | None = None
            errors: list[str] = []
            for url in self.urls:
                try:
                    value = parse_lag(self._fetch(url))
                except (httpx.HTTPError, ValueError) as exc:
                    errors.append(f"{url}: {type(exc).__name__}")
                    continue
                if value is None:
                    errors.append(f"{url}: no {LAG_METRIC}")
                else:
                    total = (total or 0) + value
            reading = LagReading(now, total, tuple(errors))
            self.history.append(reading)
            return reading
