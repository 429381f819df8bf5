"""Compile a validated tree into nested Python closures, once, so evaluation is a few calls.

Walking dataclasses with ``match`` on every event costs far more than calling closures
that already know their operator, constant operands and list name. The closures are
ordinary functions defined below; nothing is generated from rule text, and nothing here
calls exec/eval/compile. Semantics (NULL, coercions) live in :mod:`values`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final, TypeAlias

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
    children,
    walk,
)
from fraudstream.detector.rules.regex import compile_pattern
from fraudstream.detector.rules.values import (
    COMPARATORS,
    Value,
    arithmetic,
    compare,
    normalise,
    number_text,
    to_number,
    to_text,
    to_truth,
)

Variables: TypeAlias = Mapping[str, Any]
Lists: TypeAlias = Mapping[str, Collection[str]]
Evaluator: TypeAlias = Callable[[Variables, Lists], Value]
"""A compiled sub-expression: (variables, lists) -> value in the domain of :mod:`values`."""

_NO_VARIABLES: Final[Variables] = {}
_NO_LISTS: Final[Lists] = {}
_isfinite: Final = math.isfinite


def compile_rule(tree: Expr) -> Callable[[Variables, Lists], bool]:
    """A function answering "does this rule match?": only a TRUE result matches."""
    root = _compile(tree)

    def matches(variables: Variables, lists: Lists) -> bool:
        result = root(variables, lists)
        return result is True or (type(result) is str and to_truth(result) is True)

    return matches


def _is_constant(node: Expr) -> bool:
    return not any(isinstance(n, (Variable, Membership)) for n in walk(node))


def _constant(value: Value) -> Evaluator:
    def constant(variables: Variables, lists: Lists) -> Value:
        return value

    return constant


def _compile(node: Expr) -> Evaluator:
    if children(node) and _is_constant(node):
        # Fold constant sub-expressions (e.g. "-5", "60 * 60") with the very code that
        # would otherwise run per event, so folding cannot change a result.
        return _constant(_compile_node(node)(_NO_VARIABLES, _NO_LISTS))
    return _compile_node(node)


def _compile_node(node: Expr) -> Evaluator:
    match node:
        case Variable(name=name):
            return _variable(name)
        case Number(value=value):
            return _constant(float(value))
        case String(value=value) | Boolean(value=value):
            return _constant(value)
        case Negate(operand=operand):
            return _negate(_compile(operand))
        case Arithmetic(op=op, left=left, right=right):
            return _arithmetic(op, _compile(left), _compile(right))
        case Call(function=function, argument=argument):
            return _case_change(function == "lowercase", _compile(argument))
        case RegexMatch(pattern=pattern, argument=argument):
            return _regex_match(compile_pattern(pattern), _compile(argument))
        case Comparison(op=op, left=left, right=right):
            return _comparison(op, left, right)
        case Membership(value=value, collection=collection, negated=negated):
            return _membership(_compile(value), collection, negated)
        case Not(operand=operand):
            return _not(_compile(operand))
        case Logical(op=op, operands=operands):
            compiled = tuple(_compile(operand) for operand in operands)
            return _and(compiled) if op == "and" else _or(compiled)


def _variable(name: str) -> Evaluator:
    def variable(variables: Variables, lists: Lists) -> Value:
        raw: Any = variables.get(name)
        kind = type(raw)
        if kind is float:
            return raw if _isfinite(raw) else None
        if kind is str or kind is bool:
            return raw  # type: ignore[no-any-return]
        return normalise(raw)

    return variable


def _negate(operand: Evaluator) -> Evaluator:
    def negate(variables: Variables, lists: Lists) -> Value:
        number = to_number(operand(variables, lists))
        return None if number is None else -number

    return negate


def _arithmetic(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    def compute(variables: Variables, lists: Lists) -> Value:
        return arithmetic(op, left(variables, lists), right(variables, lists))

    return compute


def _case_change(lower: bool, argument: Evaluator) -> Evaluator:
    def case_change(variables: Variables, lists: Lists) -> Value:
        text = to_text(argument(variables, lists))
        if text is None:
            return None
        return text.lower() if lower else text.upper()

    return case_change


def _regex_match(matcher: Callable[[str], bool], argument: Evaluator) -> Evaluator:
    def regex_match(variables: Variables, lists: Lists) -> Value:
        text = to_text(argument(variables, lists))
        return None if text is None else matcher(text)

    return regex_match


def _comparison(op: str, left_node: Expr, right_node: Expr) -> Evaluator:
    test = COMPARATORS[op]
    left, right = _compile(left_node), _compile(right_node)
    constant = right(_NO_VARIABLES, _NO_LISTS) if _is_constant(right_node) else None
    if type(constant) is float or type(constant) is str:
        # The usual shape, "$score > 900": one call fewer, and same-type operands (the common
        # case) compare directly; everything else goes through the general coercion rules.
        constant_type = type(constant)

        def against_constant(variables: Variables, lists: Lists) -> Value:
            value = left(variables, lists)
            if type(value) is constant_type:
                return test(value, constant)
            return compare(test, value, constant)

        return against_constant

    def comparison(variables: Variables, lists: Lists) -> Value:
        return compare(test, left(variables, lists), right(variables, lists))

    return comparison


def _membership(value: Evaluator, collection: ListRef | ListLiteral, negated: bool) -> Evaluator:
    if isinstance(collection, ListLiteral):
        texts = frozenset(
            item if isinstance(item, str) else number_text(float(item)) for item in collection.items
        )

        def in_literal(variables: Variables, lists: Lists) -> Value:
            text = to_text(value(variables, lists))
            return None if text is None else (text in texts) != negated

        return in_literal

    name = collection.name

    def in_list(variables: Variables, lists: Lists) -> Value:
        text = to_text(value(variables, lists))
        entries = lists.get(name)
        if text is None or entries is None:
            return None
        return (text in entries) != negated

    return in_list


def _not(operand: Evaluator) -> Evaluator:
    def negation(variables: Variables, lists: Lists) -> Value:
        truth = to_truth(operand(variables, lists))
        return None if truth is None else not truth

    return negation


def _and(operands: tuple[Evaluator, ...]) -> Evaluator:
    def conjunction(variables: Variables, lists: Lists) -> Value:
        unknown = False
        for operand in operands:
            result = operand(variables, lists)
            if result is True:
                continue
            truth = to_truth(result)
            if truth is False:
                return False  # FALSE wins over NULL: SQL's three-valued AND
            if truth is None:
                unknown = True
        return None if unknown else True

    return conjunction


def _or(operands: tuple[Evaluator, ...]) -> Evaluator:
    def disjunction(variables: Variables, lists: Lists) -> Value:
        unknown = False
        for operand in operands:
            result = operand(variables, lists)
            if result is False:
                continue
            truth = to_truth(result)
            if truth is True:
                return True  # TRUE wins over NULL: SQL's three-valued OR
            if truth is None:
                unknown = True
        return None if unknown else False

    return disjunction
