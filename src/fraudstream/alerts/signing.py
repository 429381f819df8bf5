"""HMAC-SHA256 signatures of webhook bodies, so a receiver can check who sent them and when.

The header (``X-Fraudstream-Signature``) is ``t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
``HMAC-SHA256(secret, "<t>." + body)``: the timestamp is signed with the body, so a captured
request cannot be replayed later than ``tolerance`` seconds. Receivers verify with
:func:`verify_signature` (or the same three lines in their language), comparing in constant
time. Several ``v1=`` entries may be present while a secret is being rotated; any match passes.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Final

from fraudstream.alerts.errors import SignatureError

__all__ = ["SIGNATURE_HEADER", "sign", "signature_header", "verify_signature"]

SIGNATURE_HEADER: Final = "X-Fraudstream-Signature"
DEFAULT_TOLERANCE: Final = 300.0


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str | bytes, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body`` signed now (or at ``timestamp``)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={sign(secret, ts, body)}"


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a signature header against the raw request body; returns its timestamp.

    Raises :class:`SignatureError` when the header is missing or malformed, its timestamp is
    more than ``tolerance`` seconds from ``now``, or no ``v1`` signature matches.
    """
    if not header:
        raise SignatureError("no signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("malformed signature timestamp") from None
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed signature header (need t=...,v1=...)")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("signature timestamp outside the tolerance (replayed or clock skew)")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("signature does not match")
    return timestamp
