"""Seeded synthetic card payments: customers, legitimate habits, labelled fraud, live streams.

* :func:`generate_history` gives months of time-ordered transactions with ground truth
  (a :class:`LabelledHistory` around a pandas DataFrame), reproducible for a seed.
* :func:`write_afd_csv` / :func:`read_afd_csv` speak Amazon Fraud Detector's training CSV.
* :class:`LiveGenerator` streams the same customers in (fake or real) time, with bursts and
  fraud, keeping the label next to the record, never in it.

Fraud is built to be separable only relative to each customer's history (velocity, novelty,
deviation from habit, distance from home), never by one raw field.
"""

from __future__ import annotations

from fraudstream.simulate.afd_csv import AFD_COLUMNS, read_afd_csv, write_afd_csv
from fraudstream.simulate.clock import FakeClock
from fraudstream.simulate.columns import CURRENCIES
from fraudstream.simulate.fraud import DEFAULT_FRAUD_MIX, FraudKind
from fraudstream.simulate.history import (
    DEFAULT_END,
    DEFAULT_FRAUD_RATE,
    FRAME_COLUMNS,
    LabelledHistory,
    Truth,
    generate_history,
)
from fraudstream.simulate.live import Burst, LiveGenerator
from fraudstream.simulate.population import Population, build_population

__all__ = [
    "AFD_COLUMNS",
    "CURRENCIES",
    "DEFAULT_END",
    "DEFAULT_FRAUD_MIX",
    "DEFAULT_FRAUD_RATE",
    "FRAME_COLUMNS",
    "Burst",
    "FakeClock",
    "FraudKind",
    "LabelledHistory",
    "LiveGenerator",
    "Population",
    "Truth",
    "build_population",
    "generate_history",
    "read_afd_csv",
    "write_afd_csv",
]
