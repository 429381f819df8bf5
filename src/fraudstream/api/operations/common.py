"""Helpers every operation group uses: request bodies, AFD pagination, timestamps."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any

from fraudstream.api.errors import validation
from fraudstream.api.service import Service

Body = dict[str, Any]
Handler = Callable[[Service, Body], Body]


def encode_token(position: str) -> str:
    """An opaque nextToken (callers must not build them; we only promise round trips)."""
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise validation(
            "nextToken is not a token this server issued", [("nextToken", "invalid token")]
        ) from None


def paginate(
    items: Sequence[Body],
    body: Body,
    result: str,
    *,
    key: Callable[[Body], str],
    page_size: int,
) -> Body:
    """One page of ``items`` ordered by ``key``; the token is the last key returned, so a
    page never repeats or skips an item that stays put while others come and go."""
    ordered = sorted(items, key=key)
    token = body.get("nextToken")
    if token:
        after = decode_token(token)
        ordered = [item for item in ordered if key(item) > after]
    limit = int(body.get("maxResults") or page_size)
    page = ordered[:limit]
    out: Body = {result: page}
    if len(ordered) > limit:
        out["nextToken"] = encode_token(key(page[-1]))
    return out


def offset_page(items: Sequence[Any], body: Body, result: str, *, page_size: int) -> Body:
    """Pagination by position, for plain value lists (list elements)."""
    start = 0
    token = body.get("nextToken")
    if token:
        text = decode_token(token)
        if not text.isdigit():
            raise validation("nextToken is not a token this server issued")
        start = int(text)
    limit = int(body.get("maxResults") or page_size)
    out: Body = {result: list(items[start : start + limit])}
    if start + limit < len(items):
        out["nextToken"] = encode_token(str(start + limit))
    return out


def by_name(doc: Body) -> str:
    return str(doc["name"])


def version_key(number: str) -> str:
    """Sortable form of ``"12"`` or ``"3.1"`` version strings."""
    major, _, minor = number.partition(".")
    return f"{int(major):06d}.{int(minor or 0):03d}"
