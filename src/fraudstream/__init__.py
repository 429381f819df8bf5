"""fraudstream: real-time payment fraud detection that speaks Amazon Fraud Detector's API."""

from __future__ import annotations

from fraudstream.errors import Conflict, FraudstreamError, InvalidInput, NotFound
from fraudstream.events import PRODUCT_CATEGORIES, Transaction, parse_transaction

__version__ = "0.1.0"

__all__ = [
    "PRODUCT_CATEGORIES",
    "Conflict",
    "FraudstreamError",
    "InvalidInput",
    "NotFound",
    "Transaction",
    "__version__",
    "parse_transaction",
]
