"""The live page's time range and filters, parsed from (and written back to) the query string.

Ranges end at the newest decision's event time, not at the wall clock: the simulator can run
event time faster than real time, and a replayed day should still show its last hour.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from fraudstream.sinks import DecisionFilter

__all__ = ["BUCKETS", "OUTCOMES", "RANGES", "ViewFilter", "bucket_for"]

#: Range key -> (seconds, label).
RANGES: Final[dict[str, tuple[float, str]]] = {
    "5m": (300.0, "5 minutes"),
    "15m": (900.0, "15 minutes"),
    "1h": (3600.0, "1 hour"),
    "6h": (6 * 3600.0, "6 hours"),
    "24h": (86400.0, "24 hours"),
    "7d": (7 * 86400.0, "7 days"),
    "30d": (30 * 86400.0, "30 days"),
}
#: Short by default: each refresh scans the range (about 45k rows at 50 decisions/s).
DEFAULT_RANGE: Final = "15m"
OUTCOMES: Final = ("approve", "review", "block")
#: Bucket sizes a time axis may use, in seconds.
BUCKETS: Final = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
_TOKEN: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def bucket_for(span: float, points: int = 60) -> float:
    """The smallest standard bucket giving at most ``points`` buckets over ``span`` seconds."""
    for size in BUCKETS:
        if span / size <= points:
            return float(size)
    return float(BUCKETS[-1] * max(1, round(span / points / BUCKETS[-1])))


def _values(params: Mapping[str, Sequence[str]], name: str) -> tuple[str, ...]:
    out: list[str] = []
    for raw in params.get(name, ()):
        for value in raw.split(","):
            value = value.strip()
            if value and _TOKEN.match(value) and value not in out:
                out.append(value)
    return tuple(out[:20])


@dataclass(frozen=True, slots=True)
class ViewFilter:
    """What the user picked; invalid values are dropped, never passed to a query."""

    range_key: str = DEFAULT_RANGE
    outcomes: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()

    @classmethod
    def parse(cls, params: Mapping[str, Sequence[str]]) -> ViewFilter:
        """From a multi-valued query (``?outcome=block&outcome=review`` or ``block,review``)."""
        range_key = next(iter(params.get("range", ())), DEFAULT_RANGE)
        return cls(
            range_key=range_key if range_key in RANGES else DEFAULT_RANGE,
            outcomes=tuple(v for v in _values(params, "outcome") if v in OUTCOMES),
            currencies=tuple(v.upper() for v in _values(params, "currency") if len(v) == 3),
            categories=_values(params, "category"),
            versions=tuple(v for v in _values(params, "version") if v.isdigit()),
        )

    @property
    def seconds(self) -> float:
        return RANGES[self.range_key][0]

    @property
    def label(self) -> str:
        return RANGES[self.range_key][1]

    @property
    def bucket(self) -> float:
        return bucket_for(self.seconds)

    def where(self, latest: float) -> DecisionFilter:
        """The store filter for the range ending just after ``latest`` (epoch seconds)."""
        end = latest + 0.001
        return DecisionFilter(
            start=end - self.seconds,
            end=end,
            outcomes=self.outcomes,
            currencies=self.currencies,
            categories=self.categories,
            detector_versions=self.versions,
        )

    def query(self) -> str:
        """The query string that selects this view again."""
        pairs: list[tuple[str, str]] = [("range", self.range_key)]
        pairs += [("outcome", v) for v in self.outcomes]
        pairs += [("currency", v) for v in self.currencies]
        pairs += [("category", v) for v in self.categories]
        pairs += [("version", v) for v in self.versions]
        return urlencode(pairs)

    @property
    def key(self) -> tuple[object, ...]:
        return (self.range_key, self.outcomes, self.currencies, self.categories, self.versions)
