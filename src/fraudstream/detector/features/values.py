"""Robust coercion of raw event variables.

AFD sends every ``eventVariables`` value as a string, our own transactions carry typed values,
and CSV imports carry empty strings for missing data. Features must not depend on which of
these paths an event took, so every value goes through these functions: a number that does not
parse is *missing* (NaN / ``None``), never an error, because one bad optional field must not
stop a payment from being scored.
"""

from __future__ import annotations

import math

NAN = math.nan
_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})


def as_float(value: object) -> float:
    """The value as a finite float, or NaN when missing, unparsable or infinite."""
    number: float
    if type(value) is float:
        number = value
    elif type(value) is str:
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            lowered = text.lower()
            if lowered in _TRUE:
                return 1.0
            if lowered in _FALSE:
                return 0.0
            return NAN
    elif value is None:
        return NAN
    elif type(value) is bool:
        return 1.0 if value else 0.0
    else:  # int, numpy scalars, Decimal, ...
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            return NAN
    return number if math.isfinite(number) else NAN


def as_text(value: object) -> str | None:
    """The value as stripped text, or ``None`` when missing or empty.

    Integral floats print without ``.0`` so that a BIN sent as ``411111``, ``"411111"`` or
    ``411111.0`` is the same category everywhere (vocabulary codes and state keys).
    """
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is float:
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip() or None


def as_latitude(value: object) -> float:
    """Degrees north, NaN outside [-90, 90]."""
    number = as_float(value)
    return number if -90.0 <= number <= 90.0 else NAN


def as_longitude(value: object) -> float:
    """Degrees east, NaN outside [-180, 180]."""
    number = as_float(value)
    return number if -180.0 <= number <= 180.0 else NAN


def email_parts(email: str | None) -> tuple[str | None, float]:
    """``(domain, digit share of the local part)``.

    Throw-away addresses made by fraudsters tend to carry long digit runs
    (``j.smith84721@...``), and the domain says whether it is a free mailbox.
    """
    if email is None:
        return None, NAN
    local, at, domain = email.rpartition("@")
    if not at or not local:
        return None, NAN
    return (domain or None), sum(map(str.isdigit, local)) / len(local)
