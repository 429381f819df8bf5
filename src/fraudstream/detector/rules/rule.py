"""The public face of a rule: parse once (cached), then evaluate per event."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

from fraudstream.detector.rules.ast import Expr, ListRef, Membership, Variable, walk
from fraudstream.detector.rules.errors import line_and_column
from fraudstream.detector.rules.evaluate import compile_rule
from fraudstream.detector.rules.parser import parse
from fraudstream.detector.rules.validate import validate
from fraudstream.errors import InvalidInput

_NO_LISTS: Final[Mapping[str, Collection[str]]] = {}


class RuleExpression:
    """A parsed, validated and compiled rule. Immutable and safe to share between threads.

    ``source`` is the text it came from, ``tree`` its syntax tree, ``variables`` / ``lists``
    the ``$names`` / ``@names`` it references (without the sigil).
    """

    __slots__ = ("_matches", "lists", "source", "tree", "variables")

    source: str
    tree: Expr
    variables: frozenset[str]
    lists: frozenset[str]
    _matches: Callable[[Mapping[str, Any], Mapping[str, Collection[str]]], bool]

    def __init__(self, source: str, tree: Expr) -> None:
        """Build from an already validated tree; use :func:`parse_rule` instead."""
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "tree", tree)
        object.__setattr__(self, "variables", _names(tree, Variable))
        object.__setattr__(self, "lists", _names(tree, ListRef))
        object.__setattr__(self, "_matches", compile_rule(tree))

    def evaluate(
        self,
        variables: Mapping[str, Any],
        lists: Mapping[str, Collection[str]] = _NO_LISTS,
    ) -> bool:
        """Whether the rule matches. NULL (e.g. a missing variable) does not match; never raises.

        ``variables`` maps names (no ``$``) to str/int/float/bool/None; ``lists`` maps list
        names (no ``@``) to collections of strings (a set makes ``in`` O(1)).
        """
        return self._matches(variables, lists)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"RuleExpression is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleExpression) and self.tree == other.tree

    def __hash__(self) -> int:
        return hash(self.tree)

    def __repr__(self) -> str:
        return f"RuleExpression({self.source!r})"

    def __reduce__(self) -> tuple[Callable[[str], RuleExpression], tuple[str]]:
        # Closures do not pickle; the source text is the rule, so re-parse it on arrival.
        return (parse_rule, (self.source,))


def _names(tree: Expr, kind: type[Variable] | type[ListRef]) -> frozenset[str]:
    if kind is Variable:
        return frozenset(node.name for node in walk(tree) if isinstance(node, Variable))
    return frozenset(
        node.collection.name
        for node in walk(tree)
        if isinstance(node, Membership) and isinstance(node.collection, ListRef)
    )


def parse_rule(expression: str) -> RuleExpression:
    """Parse, validate and compile a rule; raises ``RuleSyntaxError`` naming where and why.

    Results are cached by text: detectors re-evaluate the same few rules on every event.
    """
    if not isinstance(expression, str):
        raise InvalidInput(
            f"a rule expression must be a string, not {type(expression).__name__}",
            problems=[("expression", "must be a string")],
        )
    return _parse_cached(expression)


@functools.lru_cache(maxsize=2048)
def _parse_cached(expression: str) -> RuleExpression:
    tree = parse(expression)
    validate(tree, expression)
    return RuleExpression(expression, tree)


def check_rule(
    expression: str,
    known_variables: Collection[str],
    known_lists: Collection[str] = (),
) -> RuleExpression:
    """Parse ``expression`` and insist every ``$variable`` and ``@list`` it uses is known.

    Raises ``RuleSyntaxError`` for bad text, else ``InvalidInput`` listing each unknown name
    with the line and column of its first use. Returns the parsed rule.
    """
    rule = parse_rule(expression)
    known_variable_set, known_list_set = frozenset(known_variables), frozenset(known_lists)
    problems: list[tuple[int, str]] = []
    seen: set[str] = set()
    for node in walk(rule.tree):
        if isinstance(node, Variable) and node.name not in known_variable_set:
            label, pos = f"unknown variable ${node.name}", node.pos
        elif (
            isinstance(node, Membership)
            and isinstance(node.collection, ListRef)
            and node.collection.name not in known_list_set
        ):
            label, pos = f"unknown list @{node.collection.name}", node.collection.pos
        else:
            continue
        if label not in seen:
            seen.add(label)
            problems.append((pos, label))
    if problems:
        located = []
        for pos, label in sorted(problems):
            line, column = line_and_column(expression, pos)
            located.append((f"line {line}, column {column}", label))
        message = "; ".join(f"{label} ({where})" for where, label in located)
        raise InvalidInput(f"the rule refers to {message}", problems=located)
    return rule
