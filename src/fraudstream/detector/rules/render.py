"""Tree -> canonical rule text: one spelling per tree, adding only the parentheses needed.

Used to show rules back to people in a normal form and to test the parser: rendering a
parsed rule and parsing it again gives an equal tree.
"""

from __future__ import annotations

import re
from typing import Final

from fraudstream.detector.rules.ast import (
    Arithmetic,
    Boolean,
    Call,
    Comparison,
    Expr,
    ListLiteral,
    ListRef,
    Logical,
    Membership,
    Negate,
    Not,
    Number,
    RegexMatch,
    String,
    Variable,
)
from fraudstream.detector.rules.values import number_text

# Binding strength, loosest first; mirrors the precedence in grammar.lark.
_OR, _AND, _NOT, _COMPARE, _ADD, _MULTIPLY, _UNARY, _ATOM = range(1, 9)
_ARITHMETIC_LEVEL: Final = {"+": _ADD, "-": _ADD, "*": _MULTIPLY, "/": _MULTIPLY, "%": _MULTIPLY}


def render(tree: Expr) -> str:
    """Canonical text of ``tree``: lowercase keywords, single spaces, minimal parentheses."""
    match tree:
        case Variable(name=name):
            return f"${name}"
        case Number(value=value):
            return number_text(float(value))
        case String(value=value):
            return quote(value)
        case Boolean(value=value):
            return "true" if value else "false"
        case Negate(operand=operand):
            return f"-{_wrap(operand, _UNARY)}"
        case Arithmetic(op=op, left=left, right=right):
            level = _ARITHMETIC_LEVEL[op]
            # Left-associative: an equal-strength right operand needs parentheses.
            return f"{_wrap(left, level)} {op} {_wrap(right, level + 1)}"
        case Call(function=function, argument=argument):
            return f"{function}({render(argument)})"
        case RegexMatch(pattern=pattern, argument=argument):
            return f"regex_match({quote(pattern)}, {render(argument)})"
        case Comparison(op=op, left=left, right=right):
            return f"{_wrap(left, _ADD)} {op} {_wrap(right, _ADD)}"
        case Membership(value=value, collection=collection, negated=negated):
            keyword = "not in" if negated else "in"
            return f"{_wrap(value, _ADD)} {keyword} {_collection(collection)}"
        case Not(operand=operand):
            return f"not {_wrap(operand, _NOT)}"
        case Logical(op=op, operands=operands):
            # Nested chains of the same operator keep their parentheses: a or (b or c).
            level = _OR if op == "or" else _AND
            return f" {op} ".join(_wrap(operand, level + 1) for operand in operands)


# A backslash needs escaping only before another backslash, a quote or the end of the text;
# elsewhere it stands for itself (see parser.unescape), which keeps regexes readable.
_BACKSLASH_TO_ESCAPE: Final = re.compile(r'\\(?=[\\"]|\Z)')


def quote(value: str) -> str:
    """A string literal for ``value``, e.g. ``".*@gmail\\.com"`` for ``.*@gmail\\.com``."""
    escaped = _BACKSLASH_TO_ESCAPE.sub(r"\\\\", value).replace('"', '\\"')
    return f'"{escaped}"'


def _collection(collection: ListRef | ListLiteral) -> str:
    if isinstance(collection, ListRef):
        return f"@{collection.name}"
    items = (
        quote(item) if isinstance(item, str) else number_text(float(item))
        for item in collection.items
    )
    return f"[{', '.join(items)}]"


def _level(tree: Expr) -> int:
    match tree:
        case Logical(op="or"):
            return _OR
        case Logical(op="and"):
            return _AND
        case Not():
            return _NOT
        case Comparison() | Membership():
            return _COMPARE
        case Arithmetic(op=op):
            return _ARITHMETIC_LEVEL[op]
        case Negate():
            return _UNARY
        case _:
            return _ATOM


def _wrap(tree: Expr, minimum: int) -> str:
    text = render(tree)
    return f"({text})" if _level(tree) < minimum else text
