"""The typed syntax tree of a rule: what the parser produces and everything else consumes.

Nodes are frozen dataclasses so a parsed rule can be cached and shared between threads.
``pos`` (the 0-based offset of the node's first character in the source) is excluded from
equality, so two spellings of the same rule compare equal; the renderer relies on that.
And/or chains are n-ary (``a or b or c`` is one node) so long rules stay shallow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

ArithmeticOp: TypeAlias = Literal["+", "-", "*", "/", "%"]
ComparisonOp: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]
LogicalOp: TypeAlias = Literal["and", "or"]
FunctionName: TypeAlias = Literal["lowercase", "uppercase"]


@dataclass(frozen=True, slots=True)
class Node:
    """Base class: only carries the source position."""

    pos: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Variable(Node):
    """``$name``: a value looked up in the event's variables at evaluation time."""

    name: str


@dataclass(frozen=True, slots=True)
class Number(Node):
    """A numeric literal. Always finite and >= 0: ``-5`` parses as ``Negate(Number(5))``."""

    value: float


@dataclass(frozen=True, slots=True)
class String(Node):
    """A double-quoted string literal, escapes already resolved."""

    value: str


@dataclass(frozen=True, slots=True)
class Boolean(Node):
    """``true`` / ``false``."""

    value: bool


@dataclass(frozen=True, slots=True)
class Negate(Node):
    """Unary minus."""

    operand: Expr


@dataclass(frozen=True, slots=True)
class Arithmetic(Node):
    """``left op right`` for + - * / %."""

    op: ArithmeticOp
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Call(Node):
    """``lowercase(x)`` / ``uppercase(x)``."""

    function: FunctionName
    argument: Expr


@dataclass(frozen=True, slots=True)
class RegexMatch(Node):
    """``regex_match("pattern", x)``: the pattern must be a literal so it is compiled once."""

    pattern: str
    argument: Expr
    pattern_pos: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Comparison(Node):
    """``left op right`` for == != < <= > >= (non-associative: ``a < b < c`` is rejected)."""

    op: ComparisonOp
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class ListRef(Node):
    """``@name``: a list supplied at evaluation time."""

    name: str


@dataclass(frozen=True, slots=True)
class ListLiteral(Node):
    """``["CA", "NY", 5, -1.5]``: numbers here may be negative."""

    items: tuple[str | float, ...]


@dataclass(frozen=True, slots=True)
class Membership(Node):
    """``value in collection`` or, when ``negated``, ``value not in collection``."""

    value: Expr
    collection: ListRef | ListLiteral
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Not(Node):
    """``not x`` / ``!x``."""

    operand: Expr


@dataclass(frozen=True, slots=True)
class Logical(Node):
    """``a and b and c`` / ``a or b or c``: at least two operands."""

    op: LogicalOp
    operands: tuple[Expr, ...]


Expr: TypeAlias = (
    Variable
    | Number
    | String
    | Boolean
    | Negate
    | Arithmetic
    | Call
    | RegexMatch
    | Comparison
    | Membership
    | Not
    | Logical
)


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``node``, left to right."""
    match node:
        case Negate(operand=operand) | Not(operand=operand):
            return (operand,)
        case Arithmetic(left=left, right=right) | Comparison(left=left, right=right):
            return (left, right)
        case Call(argument=argument) | RegexMatch(argument=argument):
            return (argument,)
        case Membership(value=value):
            return (value,)
        case Logical(operands=operands):
            return operands
        case _:
            return ()


def walk(node: Expr) -> Iterator[Expr]:
    """Every node, pre-order, left to right; iterative so no depth can overflow the stack."""
    stack: list[Expr] = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def depth(node: Expr) -> int:
    """Height of the tree (a leaf is 1); iterative for the same reason as :func:`walk`."""
    deepest = 0
    stack: list[tuple[Expr, int]] = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(current))
    return deepest
