"""Text -> syntax tree, with the LALR parser generated from ``grammar.lark``.

The transformer builds :mod:`.ast` nodes during the parse itself (no intermediate lark
tree), recording each node's source offset so later checks can point at it. Lark's errors
are translated into plain words by :mod:`.diagnostics`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from importlib import resources
from typing import Any, Final

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedInput

from fraudstream.detector.rules.ast import (
    Arithmetic,
    ArithmeticOp,
    Boolean,
    Call,
    Comparison,
    ComparisonOp,
    Expr,
    FunctionName,
    ListLiteral,
    ListRef,
    Logical,
    LogicalOp,
    Membership,
    Negate,
    Not,
    Number,
    RegexMatch,
    String,
    Variable,
)
from fraudstream.detector.rules.diagnostics import translate
from fraudstream.detector.rules.errors import RuleSyntaxError

MAX_RULE_LENGTH: Final = 4096
"""Longest accepted rule, in characters."""

_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def unescape(literal: str) -> str:
    """The value of a quoted string token: ``\\"`` and ``\\\\`` are escapes, nothing else is.

    Any other backslash is kept, so a regex written the AFD way, ``".*@gmail\\.com"``,
    reaches RE2 as ``.*@gmail\\.com``.
    """
    body = literal[1:-1]
    if "\\" not in body:
        return body
    return _ESCAPE.sub(lambda m: m.group(1) if m.group(1) in '"\\' else m.group(0), body)


def _logical(op: LogicalOp, children: list[Any]) -> Logical:
    operands = tuple(child for child in children if not isinstance(child, Token))
    return Logical(op, operands, pos=operands[0].pos)


def _fold_left(children: list[Any]) -> Expr:
    result: Expr = children[0]
    for index in range(1, len(children), 2):
        op: ArithmeticOp = children[index].value
        result = Arithmetic(op, result, children[index + 1], pos=result.pos)
    return result


class _ToTree(Transformer[Token, Any]):
    """Builds :mod:`ast` nodes while the LALR parser reduces (no intermediate parse tree)."""

    def start(self, children: list[Any]) -> Expr:
        result: Expr = children[0]
        return result

    def or_expr(self, children: list[Any]) -> Logical:
        return _logical("or", children)

    def and_expr(self, children: list[Any]) -> Logical:
        return _logical("and", children)

    def negation(self, children: list[Any]) -> Not:
        keyword, operand = children
        return Not(operand, pos=keyword.start_pos)

    def comparison(self, children: list[Any]) -> Comparison:
        left, op, right = children
        return Comparison(op, left, right, pos=left.pos)

    def comparator(self, children: list[Any]) -> ComparisonOp:
        op: ComparisonOp = children[0].value
        return op

    def membership(self, children: list[Any]) -> Membership:
        value, collection = children[0], children[-1]
        return Membership(value, collection, negated=len(children) == 4, pos=value.pos)

    def list_ref(self, children: list[Any]) -> ListRef:
        (token,) = children
        return ListRef(token.value[1:], pos=token.start_pos)

    def list_literal(self, children: list[Any]) -> ListLiteral:
        items = tuple(c for c in children[1:-1] if c is not None and not isinstance(c, Token))
        return ListLiteral(items, pos=children[0].start_pos)

    def item(self, children: list[Any]) -> str | float:
        token = children[-1]
        if token.type == "STRING":
            return unescape(token.value)
        number = float(token.value)
        return -number if len(children) == 2 else number

    def sum(self, children: list[Any]) -> Expr:
        return _fold_left(children)

    def product(self, children: list[Any]) -> Expr:
        return _fold_left(children)

    def negate(self, children: list[Any]) -> Negate:
        minus, operand = children
        return Negate(operand, pos=minus.start_pos)

    def variable(self, children: list[Any]) -> Variable:
        (token,) = children
        return Variable(token.value[1:], pos=token.start_pos)

    def number(self, children: list[Any]) -> Number:
        (token,) = children
        return Number(float(token.value), pos=token.start_pos)

    def string(self, children: list[Any]) -> String:
        (token,) = children
        return String(unescape(token.value), pos=token.start_pos)

    def boolean(self, children: list[Any]) -> Boolean:
        (token,) = children
        return Boolean(token.type == "TRUE", pos=token.start_pos)

    def parenthesised(self, children: list[Any]) -> Expr:
        # Point at the "(" so later errors about this operand underline all of it.
        inner: Expr = dataclasses.replace(children[1], pos=children[0].start_pos)
        return inner

    def regex_match(self, children: list[Any]) -> RegexMatch:
        keyword, _, pattern, _, argument, _ = children
        return RegexMatch(
            unescape(pattern.value),
            argument,
            pos=keyword.start_pos,
            pattern_pos=pattern.start_pos,
        )

    def call(self, children: list[Any]) -> Call:
        keyword, _, argument, _ = children
        function: FunctionName = "lowercase" if keyword.type == "LOWERCASE" else "uppercase"
        return Call(function, argument, pos=keyword.start_pos)


@functools.cache
def _parser() -> Lark:
    """The LALR parser, built once (grammar analysis takes milliseconds; parses take far less)."""
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", transformer=_ToTree())


def parse(source: str) -> Expr:
    """Parse rule text into a tree, or raise :class:`RuleSyntaxError`. No semantic checks."""
    if len(source) > MAX_RULE_LENGTH:
        raise RuleSyntaxError(
            f"the rule is {len(source):,} characters long; the limit is {MAX_RULE_LENGTH:,}",
            source=source,
            position=MAX_RULE_LENGTH,
        )
    if not source.strip():
        raise RuleSyntaxError(
            "the rule is empty; write a condition such as $amount > 100",
            source=source,
            position=0,
        )
    try:
        result: Any = _parser().parse(source)  # our transformer returns an Expr, not a Tree
    except UnexpectedInput as exc:
        raise translate(source, exc, _parser()) from None
    except LarkError as exc:  # pragma: no cover - lark raises UnexpectedInput for bad text
        raise RuleSyntaxError(
            f"could not parse the rule ({exc})", source=source, position=0
        ) from None
    tree: Expr = result
    return tree
