"""A labelled history: months of transactions with ground truth, for training and replay.

:func:`generate_history` draws legit and fraud events as columns, orders them by time, and
gathers strings once into a pandas DataFrame: the 19 transaction fields, then ``is_fraud``,
``fraud_kind`` and ``label_time`` (when the label became known: a chargeback comes days after
the purchase, so a point-in-time training set must not use labels from its own future).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fraudstream.errors import InvalidInput
from fraudstream.events import TRANSACTION_FIELDS, parse_time
from fraudstream.simulate.columns import CURRENCIES, SECONDS_PER_DAY, Columns
from fraudstream.simulate.fraud import KINDS, FraudKind, fraud_history
from fraudstream.simulate.habits import CATEGORIES
from fraudstream.simulate.legit import legit_history
from fraudstream.simulate.population import Population, build_population, default_customers

#: A fixed default end keeps a seed's history identical from day to day.
DEFAULT_END = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT_DAYS = 182.0
DEFAULT_FRAUD_RATE = 0.008
LABEL_COLUMNS: tuple[str, ...] = ("is_fraud", "fraud_kind", "label_time")
FRAME_COLUMNS: tuple[str, ...] = TRANSACTION_FIELDS + LABEL_COLUMNS
MAX_EVENTS = 50_000_000

_FLOAT_FIELDS = frozenset({"transaction_amt", "billing_latitude", "billing_longitude"})
_INT_FIELDS = frozenset({"card_bin"})


@dataclass(frozen=True, slots=True)
class Truth:
    """Ground truth for one transaction, kept apart from the record a pipeline sees.

    ``kind`` is None for legit events and for fraud whose kind is unknown (read from AFD CSV).
    """

    is_fraud: bool
    kind: FraudKind | None = None


LEGIT = Truth(False)


@dataclass(frozen=True, eq=False)
class LabelledHistory:
    """Time-ordered transactions with labels.

    ``frame`` has the 19 transaction fields (``event_time`` as ISO 8601 ``...Z`` text) plus
    ``is_fraud`` (bool), ``fraud_kind`` (a :class:`FraudKind` value, missing for legit) and
    ``label_time`` (ISO 8601). ``population`` is set when generated, so a
    :class:`~fraudstream.simulate.live.LiveGenerator` can continue the same customers.
    """

    frame: pd.DataFrame
    population: Population | None = None

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def is_fraud(self) -> NDArray[np.bool_]:
        return np.asarray(self.frame["is_fraud"].to_numpy(dtype=bool))

    @property
    def fraud_rate(self) -> float:
        return float(self.is_fraud.mean()) if len(self) else 0.0

    def kind_counts(self) -> dict[str, int]:
        """Fraud events per kind."""
        counts = self.frame["fraud_kind"].value_counts()
        return {str(k): int(v) for k, v in counts.items()}

    def iter_records(self, chunk_size: int = 10_000) -> Iterator[dict[str, Any]]:
        """Transaction dicts (exactly the 19 fields, JSON-ready) in time order."""
        for chunk in self._chunks(chunk_size):
            yield from _records(chunk)

    def iter_labelled(self, chunk_size: int = 10_000) -> Iterator[tuple[dict[str, Any], Truth]]:
        """(transaction dict, truth) pairs in time order."""
        for chunk in self._chunks(chunk_size):
            truths = [
                Truth(True, FraudKind(kind) if isinstance(kind, str) else None) if fraud else LEGIT
                for fraud, kind in zip(chunk["is_fraud"], chunk["fraud_kind"], strict=True)
            ]
            yield from zip(_records(chunk), truths, strict=True)

    def records(self) -> list[dict[str, Any]]:
        """All transaction dicts; prefer :meth:`iter_records` for big histories."""
        return list(self.iter_records())

    def _chunks(self, chunk_size: int) -> Iterator[pd.DataFrame]:
        for lo in range(0, len(self.frame), chunk_size):
            yield self.frame.iloc[lo : lo + chunk_size]


def _records(chunk: pd.DataFrame) -> list[dict[str, Any]]:
    columns = {name: chunk[name].tolist() for name in TRANSACTION_FIELDS}
    for name in _FLOAT_FIELDS:
        columns[name] = [float(v) for v in columns[name]]
    for name in _INT_FIELDS:
        columns[name] = [int(v) for v in columns[name]]
    return [
        dict(zip(TRANSACTION_FIELDS, row, strict=True))
        for row in zip(*columns.values(), strict=True)
    ]


def generate_history(
    n_events: int = 100_000,
    *,
    n_customers: int | None = None,
    seed: int = 0,
    fraud_rate: float = DEFAULT_FRAUD_RATE,
    end: datetime | str = DEFAULT_END,
    days: float = DEFAULT_DAYS,
    fraud_mix: Mapping[FraudKind, float] | None = None,
    population: Population | None = None,
) -> LabelledHistory:
    """``n_events`` transactions over ``days`` days ending at ``end``, about ``fraud_rate`` fraud.

    The same arguments always give the same history. ``n_customers`` defaults to about one
    customer per hundred events (200-20,000); pass ``population`` to reuse one.
    """
    if isinstance(n_events, bool) or not 1 <= n_events <= MAX_EVENTS:
        raise InvalidInput(f"n_events must be 1..{MAX_EVENTS}, got {n_events}")
    if not 0.0 <= fraud_rate <= 0.5:
        raise InvalidInput(f"fraud_rate must be within 0..0.5, got {fraud_rate}")
    if not 1.0 <= days <= 3660.0:
        raise InvalidInput(f"days must be within 1..3660, got {days}")
    end_dt = parse_time(end) if isinstance(end, str) else end
    if end_dt.tzinfo is None:
        end_dt = end_dt.replace(tzinfo=UTC)
    end_s = float(np.floor(end_dt.timestamp()))
    start_s = end_s - days * SECONDS_PER_DAY
    pop = population or build_population(n_customers or default_customers(n_events), seed)

    streams = np.random.SeedSequence([seed, 1]).spawn(2)
    n_fraud = round(n_events * fraud_rate)
    fraud = fraud_history(
        pop, np.random.default_rng(streams[1]), n_fraud, start_s, end_s, fraud_mix
    )
    legit = legit_history(
        pop, np.random.default_rng(streams[0]), n_events - n_fraud, start_s, end_s
    )
    cols = Columns.concat([legit, fraud])
    cols = cols.take(np.argsort(cols.time, kind="stable"))
    return LabelledHistory(to_frame(pop, cols, event_ids(seed, 0, len(cols))), pop)


def event_ids(seed: int, stream: int, n: int, first: int = 0) -> NDArray[np.object_]:
    """``n`` unique 16-hex-digit event ids for ``seed``: a keyed bijection of 0, 1, 2, ...

    A bijection (add, xor-shift, odd multiply) cannot collide, so ids are unique without a set;
    the key makes them look random and differ between seeds and streams.
    """
    key = np.random.SeedSequence([seed, 7, stream]).generate_state(2, dtype=np.uint64)
    x = np.arange(first, first + n, dtype=np.uint64) + key[0]
    x ^= x >> np.uint64(31)
    x *= np.uint64(0x7FB5D329728EA185)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x81DADEF4BC2DD44D)
    x ^= x >> np.uint64(33)
    x ^= key[1]
    text = x.astype(">u8").tobytes().hex()
    return np.array([text[i : i + 16] for i in range(0, len(text), 16)], dtype=object)


_TIME_OF_DAY = [f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(86_400)]


def iso_times(epoch_s: NDArray[np.float64]) -> NDArray[np.object_]:
    """Epoch seconds as AFD's exact ISO 8601 form ``YYYY-MM-DDTHH:MM:SSZ``.

    Formatting a few hundred distinct dates and looking up the time of day is ~10x faster
    than formatting every timestamp.
    """
    seconds = np.floor(epoch_s).astype(np.int64)
    day, second = np.divmod(seconds, SECONDS_PER_DAY)
    first = int(day.min()) if len(day) else 0
    dates = np.datetime_as_string(
        np.arange(first, int(day.max(initial=first)) + 1).astype("datetime64[D]")
    )
    date_text = dates.tolist()
    tod = _TIME_OF_DAY
    return np.array(
        [
            date_text[d] + tod[s]
            for d, s in zip((day - first).tolist(), second.tolist(), strict=True)
        ],
        dtype=object,
    )


def to_frame(pop: Population, cols: Columns, ids: NDArray[np.object_]) -> pd.DataFrame:
    """Gather strings from the population's tables: one fancy index per column."""
    c, a, book = cols.customer, cols.address, pop.addresses
    kind_names = np.array([None, *(k.value for k in KINDS)], dtype=object)
    event_time = iso_times(cols.time)
    label_time = event_time.copy()  # legit: labelled as it happens
    fraud = np.flatnonzero(cols.kind > 0)
    label_time[fraud] = iso_times(cols.time[fraud] + cols.label_delay[fraud])
    data: dict[str, Any] = {
        "transaction_amt": cols.amount,
        "email_address": pop.emails[cols.email],
        "ip_address": pop.ips[cols.ip],
        "transaction_currency": np.array(CURRENCIES, dtype=object)[cols.currency],
        "event_id": ids,
        "entity_id": pop.customer_id[c],
        "event_time": event_time,
        "billing_longitude": book.longitude[a],
        "billing_state": book.state[a],
        "user_agent": pop.user_agents[cols.user_agent],
        "billing_street": book.street[a],
        "billing_city": book.city[a],
        "card_bin": pop.card_bin[c],
        "customer_name": pop.name[c],
        "product_category": np.array(CATEGORIES, dtype=object)[cols.category],
        "customer_job": pop.job[c],
        "phone": pop.phones[cols.phone],
        "billing_latitude": book.latitude[a],
        "billing_zip": book.zip[a],
        "is_fraud": cols.kind > 0,
        "fraud_kind": kind_names[cols.kind],
        "label_time": label_time,
    }
    return pd.DataFrame(data, columns=list(FRAME_COLUMNS))
