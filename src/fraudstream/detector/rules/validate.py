"""Checks on a parsed tree that a context-free grammar cannot express.

The grammar accepts ``1 and "x"`` or ``$a + ($b > 1)``; they are almost certainly mistakes,
so we reject them before a rule is saved rather than silently never matching. We also bound
nesting (so recursive passes over the tree cannot exhaust Python's stack), reject numbers
too large for a double, and compile every regex so a bad pattern fails at parse time.
"""

from __future__ import annotations

import enum
import math
from typing import Final

from fraudstream.detector.rules.ast import (
    Arithmetic,
    Boolean,
    Call,
    Comparison,
    Expr,
    Logical,
    Membership,
    Negate,
    Not,
    Number,
    RegexMatch,
    String,
    Variable,
    children,
    walk,
)
from fraudstream.detector.rules.errors import RuleSyntaxError
from fraudstream.detector.rules.regex import PatternError, compile_pattern

MAX_DEPTH: Final = 100
"""Deepest accepted nesting of sub-expressions (real rules rarely exceed 10)."""


class Kind(enum.Enum):
    """What an expression can statically be known to produce."""

    CONDITION = "a condition"
    NUMBER = "a number"
    STRING = "a string"
    ANY = "a variable"  # $x may hold anything until evaluation


def validate(tree: Expr, source: str) -> None:
    """Raise :class:`RuleSyntaxError` if ``tree`` (parsed from ``source``) is not a valid rule."""
    _check_depth(tree, source)
    for node in walk(tree):
        if isinstance(node, Number) and not math.isfinite(node.value):
            raise RuleSyntaxError("this number is too large", source=source, position=node.pos)
        if isinstance(node, RegexMatch):
            try:
                compile_pattern(node.pattern)
            except PatternError as exc:
                raise RuleSyntaxError(str(exc), source=source, position=node.pattern_pos) from None
    kind = _kind(tree, source)
    if kind not in (Kind.CONDITION, Kind.ANY):
        raise RuleSyntaxError(
            f"a rule must be a condition (such as $amount > 100), but this is {kind.value}",
            source=source,
            position=tree.pos,
        )


def _check_depth(tree: Expr, source: str) -> None:
    stack: list[tuple[Expr, int]] = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        if level > MAX_DEPTH:
            raise RuleSyntaxError(
                f"the rule nests more than {MAX_DEPTH} levels deep; simplify it",
                source=source,
                position=node.pos,
            )
        stack.extend((child, level + 1) for child in children(node))


def _require(node: Expr, allowed: tuple[Kind, ...], context: str, source: str) -> None:
    kind = _kind(node, source)
    if kind not in allowed:
        raise RuleSyntaxError(
            f"{context}, but this is {kind.value}", source=source, position=node.pos
        )


_CONDITIONS: Final = (Kind.CONDITION, Kind.ANY)
_NUMBERS: Final = (Kind.NUMBER, Kind.ANY)


def _kind(node: Expr, source: str) -> Kind:
    """The static kind of ``node``, checking its operands on the way (depth is bounded)."""
    match node:
        case Variable():
            return Kind.ANY
        case Number():
            return Kind.NUMBER
        case String():
            return Kind.STRING
        case Boolean():
            return Kind.CONDITION
        case Negate(operand=operand):
            _require(operand, _NUMBERS, "'-' needs a number", source)
            return Kind.NUMBER
        case Arithmetic(op=op, left=left, right=right):
            for side in (left, right):
                _require(side, _NUMBERS, f"'{op}' needs numbers", source)
            return Kind.NUMBER
        case Call(argument=argument):
            _kind(argument, source)
            return Kind.STRING
        case RegexMatch(argument=argument) | Membership(value=argument):
            _kind(argument, source)
            return Kind.CONDITION
        case Comparison(left=left, right=right):
            _kind(left, source)
            _kind(right, source)
            return Kind.CONDITION
        case Not(operand=operand):
            _require(operand, _CONDITIONS, "'not' needs a condition", source)
            return Kind.CONDITION
        case Logical(op=op, operands=operands):
            for operand in operands:
                _require(operand, _CONDITIONS, f"'{op}' joins conditions", source)
            return Kind.CONDITION
