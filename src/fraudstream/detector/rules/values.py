"""The value domain of rule evaluation and its coercions: the language's semantics in one place.

During evaluation every value is one of ``None`` (NULL), ``bool``, ``float`` or ``str``.
Numbers are always finite floats (AFD scores and amounts are doubles), so an overflowing or
undefined computation becomes NULL instead of ``inf``/``nan`` or an exception. These helpers
never raise: a detector must not fail because one event carried odd data.
"""

from __future__ import annotations

import decimal
import math
import numbers
import operator
import re
from collections.abc import Callable
from typing import Any, Final, TypeAlias

Value: TypeAlias = bool | float | str | None

# Strict decimal syntax: float() alone would also accept "nan", "inf", "1_000" and non-ASCII
# digits, none of which an AFD event variable means as a number.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPACE: Final = " \t\r\n"


def normalise(raw: object) -> Value:
    """Bring a caller-supplied variable into the value domain.

    str and bool pass through; int/float and other real numbers (numpy's, Decimal,
    Fraction) become a float; NaN and infinities (NaN is how our feature vectors spell
    "missing") become NULL, as do None and any other type.
    """
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        return raw if type(raw) is str else str(raw)  # plain str, e.g. from a StrEnum
    if isinstance(raw, (numbers.Real, decimal.Decimal)):
        try:
            number = float(raw)
        except (OverflowError, ValueError, TypeError):
            return None
        return number if math.isfinite(number) else None
    return None


def parse_number(text: str) -> float | None:
    """The number a string spells (surrounding whitespace allowed), or None."""
    stripped = text.strip(_SPACE)
    if _NUMBER.fullmatch(stripped) is None:
        return None
    number = float(stripped)
    return number if math.isfinite(number) else None


def to_number(value: Value) -> float | None:
    """A number from a number or a numeric string; booleans are not numbers."""
    if type(value) is float:
        return value
    if type(value) is str:
        return parse_number(value)
    return None


def to_truth(value: Value) -> bool | None:
    """A boolean from a boolean or the strings "true"/"false" (any case); otherwise NULL."""
    if type(value) is bool:
        return value
    if type(value) is str:
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


def number_text(number: float) -> str:
    """Canonical text of a number: whole numbers without ".0" (5.0 -> "5"), else Python repr."""
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return repr(number)


def to_text(value: Value) -> str | None:
    """Text of a value, as used by lists, ``regex_match`` and lowercase/uppercase."""
    if type(value) is str:
        return value
    if type(value) is float:
        return number_text(value)
    if type(value) is bool:
        return "true" if value else "false"
    return None


Comparator: TypeAlias = Callable[[Any, Any], bool]

COMPARATORS: Final[dict[str, Comparator]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_EQUALITY: Final = frozenset({operator.eq, operator.ne})


def compare(compare_op: Comparator, left: Value, right: Value) -> bool | None:
    """Apply a comparison with the language's coercions (see the package docstring).

    number vs number and string vs string compare directly (strings by code point, case
    sensitive); a number vs a string parses the string as a number; a boolean equals a
    boolean or "true"/"false"; booleans have no order. Anything else, or NULL, is NULL.
    """
    left_type = type(left)
    right_type = type(right)
    if left_type is right_type and left is not None:
        if left_type is bool and compare_op not in _EQUALITY:
            return None
        return compare_op(left, right)
    if left is None or right is None:
        return None
    if left_type is bool or right_type is bool:
        if compare_op not in _EQUALITY:
            return None
        left_truth, right_truth = to_truth(left), to_truth(right)
        if left_truth is None or right_truth is None:
            return None
        return compare_op(left_truth, right_truth)
    left_number, right_number = to_number(left), to_number(right)
    if left_number is None or right_number is None:
        return None
    return compare_op(left_number, right_number)


def arithmetic(op: str, left: Value, right: Value) -> float | None:
    """``left op right`` on numbers (numeric strings coerced); NULL on NULL, /0, %0, overflow.

    ``%`` is Java's remainder (sign of the dividend, ``math.fmod``), as AFD runs on the JVM.
    """
    x, y = to_number(left), to_number(right)
    if x is None or y is None:
        return None
    if op == "+":
        result = x + y
    elif op == "-":
        result = x - y
    elif op == "*":
        result = x * y
    elif y == 0.0:
        return None
    elif op == "/":
        result = x / y
    else:
        result = math.fmod(x, y)
    return result if math.isfinite(result) else None
