"""Transactions as columns of indices: how legit and fraud generators hand events around.

Generating a million events one dict at a time is slow; instead every generator returns
:class:`Columns`, parallel numpy arrays whose string fields are indices into the population's
tables (e-mails, IPs, user agents, addresses). Strings are gathered once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

#: Currencies seen in traffic and the USD value of one unit (fixed: amounts only need scale).
CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "CAD")
USD_PER_UNIT: NDArray[np.float64] = np.array([1.0, 1.08, 1.27, 0.73])

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, eq=False)
class Columns:
    """Parallel arrays, one row per transaction. ``kind`` 0 is legit, else a fraud kind code."""

    customer: NDArray[np.int32]
    time: NDArray[np.float64]  # epoch seconds UTC
    category: NDArray[np.int8]
    amount: NDArray[np.float64]  # in ``currency``, rounded to cents
    currency: NDArray[np.int8]  # index into CURRENCIES
    ip: NDArray[np.int32]  # index into Population.ips
    user_agent: NDArray[np.int32]  # index into Population.user_agents
    email: NDArray[np.int32]  # index into Population.emails
    phone: NDArray[np.int32]  # index into Population.phones
    address: NDArray[np.int32]  # index into Population.addresses
    kind: NDArray[np.int8]
    label_delay: NDArray[np.float64]  # seconds from event to label (0 for legit)

    def __len__(self) -> int:
        return len(self.customer)

    def take(self, index: NDArray[np.intp] | slice) -> Columns:
        """Rows at ``index`` (an index array or slice)."""
        return Columns(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Columns]) -> Columns:
        """Rows of all ``parts``, in order."""
        return Columns(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Columns)}
        )

    @staticmethod
    def empty() -> Columns:
        i32 = np.zeros(0, dtype=np.int32)
        f64 = np.zeros(0, dtype=np.float64)
        i8 = np.zeros(0, dtype=np.int8)
        return Columns(i32, f64, i8, f64, i8, i32, i32, i32, i32, i32, i8, f64)


def local_clock(
    time: NDArray[np.float64], utc_offset_h: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(local hour 0-23, local weekday Monday=0) for epoch seconds in a standard-time zone."""
    local = np.floor(time + utc_offset_h * 3600.0).astype(np.int64)
    hour = (local // 3600) % 24
    weekday = (local // SECONDS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday
    return hour, weekday


def to_currency(usd: NDArray[np.float64], currency: NDArray[np.int8]) -> NDArray[np.float64]:
    """USD amounts in each row's currency, rounded to cents, never below one cent."""
    return np.asarray(np.maximum(np.round(usd / USD_PER_UNIT[currency], 2), 0.01))


def group_cumsum(values: NDArray[np.float64], sizes: NDArray[np.int64]) -> NDArray[np.float64]:
    """Cumulative sums restarting at each group; groups are consecutive runs of ``sizes``."""
    total = np.cumsum(values)
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.asarray(total - total[first] + values[first])
