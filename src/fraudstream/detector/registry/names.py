"""Identifier rules, ARNs and timestamps shared by every registry resource."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fraudstream.errors import InvalidInput

# AFD's identifier pattern for detectors, rules, models, outcomes, labels, event types.
_IDENTIFIER = re.compile(r"^[0-9a-z_-]{1,64}$")
_VARIABLE = re.compile(r"^[0-9a-z_]{1,64}$")

ENTITY_TYPES_UNKNOWN = "unknown"


def identifier(value: object, field: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise InvalidInput(
            f"{field} must be 1-64 characters of lower-case letters, digits, _ and -; "
            f"got {value!r}",
            [(field, "bad identifier")],
        )
    return value


def variable_name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not _VARIABLE.match(value):
        raise InvalidInput(
            f"{field} must be 1-64 characters of lower-case letters, digits and _; got {value!r}",
            [(field, "bad variable name")],
        )
    return value


def now_iso() -> str:
    """AFD's timestamp form: ISO 8601 UTC with milliseconds and Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def arn(resource: str, name: str, region: str = "local", account: str = "000000000000") -> str:
    return f"arn:aws:frauddetector:{region}:{account}:{resource}/{name}"
