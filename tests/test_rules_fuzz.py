"""Property tests for the rule language.

1. Any text either parses or raises RuleSyntaxError, nothing else.
2. Generated trees, rendered to text (canonically and with random noise), parse back to the
   same tree and evaluate exactly like an independent, naive reference interpreter.
3. render(parse(x)) is a fixed point: parsing it again gives the same tree and text.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Collection, Mapping
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fraudstream.detector.rules import (
    MAX_RULE_LENGTH,
    RuleExpression,
    RuleSyntaxError,
    parse_rule,
    render,
)
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
from fraudstream.detector.rules.evaluate import _compile

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- 1. arbitrary text --------------------------------------------------------------------

TOKENS = [
    "$a", "$b", "$score", "@l", "@blocked", "1", "-", "2.5", "1e3", "1e999", '"x"', '"', "\\",
    "(", ")", "[", "]", ",", "==", "!=", "<", "<=", ">", ">=", "+", "*", "/", "%", "!", "=",
    "and", "OR", "not", "in", "true", "False", "regex_match", "lowercase", "UPPERCASE",
    '"(a"', '"[0-9]+"', "\n", " ", "foo", "$", "@", "&&", "#", "\ud800", "é",
]  # fmt: skip


def check_parse_or_syntax_error(text: str) -> None:
    error: RuleSyntaxError | None = None
    try:
        rule = parse_rule(text)
    except RuleSyntaxError as caught:
        error = caught
    if error is not None:
        assert 0 <= error.position <= len(text)
        assert error.line >= 1
        assert error.column >= 1
        assert str(error).startswith(f"line {error.line}, column {error.column}: ")
        return
    assert isinstance(rule, RuleExpression)
    assert rule.evaluate({}, {}) in (True, False)
    assert rule.evaluate(dict.fromkeys(rule.variables, "1"), {}) in (True, False)


@FUZZ
@given(st.text(max_size=300))
def test_random_text_parses_or_raises_rule_syntax_error(text: str) -> None:
    check_parse_or_syntax_error(text)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.sampled_from([" ", "", "\t"]))
def test_token_soup_parses_or_raises_rule_syntax_error(tokens: list[str], sep: str) -> None:
    check_parse_or_syntax_error(sep.join(tokens))


# --- tree generation ----------------------------------------------------------------------

VARIABLE_NAMES = ["a", "b", "c", "s", "n", "flag", "in", "Not"]
LIST_NAMES = ["l1", "blocked", "absent"]  # "absent" is never supplied
# Patterns on which Python's re (used by the reference) and RE2 agree.
PATTERNS = ["", ".*", "a+", "[a-z]*", "[0-9]+", ".*@gmail\\.com", "a|b|5", "x?y{1,3}", "(ab)*", '"']
TEXTS = ["", "a", "ab", "5", "5.0", "-2", " 7 ", "1e3", "true", "FALSE", "nan", "x@gmail.com"]

texts = st.one_of(st.sampled_from(TEXTS), st.text(max_size=8))
numbers = st.one_of(
    st.integers(min_value=0, max_value=1000).map(float),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
)
variables = st.sampled_from(VARIABLE_NAMES).map(Variable)

number_exprs: st.SearchStrategy[Expr] = st.recursive(
    st.one_of(numbers.map(Number), variables),
    lambda inner: st.one_of(
        inner.map(Negate),
        st.builds(Arithmetic, st.sampled_from(["+", "-", "*", "/", "%"]), inner, inner),
    ),
    max_leaves=6,
)
string_exprs: st.SearchStrategy[Expr] = st.one_of(
    texts.map(String),
    st.builds(
        Call,
        st.sampled_from(["lowercase", "uppercase"]),
        st.one_of(variables, texts.map(String), number_exprs),
    ),
)
value_exprs = st.one_of(number_exprs, string_exprs, variables)
collections = st.one_of(
    st.sampled_from(LIST_NAMES).map(ListRef),
    st.lists(st.one_of(texts, st.floats(allow_nan=False, allow_infinity=False)), max_size=4).map(
        lambda items: ListLiteral(tuple(items))
    ),
)


def condition_leaves() -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.booleans().map(Boolean),
        variables,
        st.builds(
            Comparison,
            st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
            value_exprs,
            value_exprs,
        ),
        st.builds(Membership, value_exprs, collections, st.booleans()),
        st.builds(RegexMatch, st.sampled_from(PATTERNS), value_exprs),
    )


conditions: st.SearchStrategy[Expr] = st.recursive(
    condition_leaves(),
    lambda inner: st.one_of(
        inner.map(Not),
        st.builds(
            Logical,
            st.sampled_from(["and", "or"]),
            st.lists(inner, min_size=2, max_size=4).map(tuple),
        ),
        # Conditions are values too: (x > 1) == true, ($a in @l) in ["true"].
        st.builds(Comparison, st.sampled_from(["==", "!="]), inner, inner),
        st.builds(Membership, inner, collections, st.booleans()),
    ),
    max_leaves=12,
)

raw_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),  # includes nan and inf, which are NULL
    st.sampled_from([0.0, -0.0, 5.0, 0.5, -2.0, 1e308, 1000.0]),
    texts,
)
variable_maps = st.dictionaries(st.sampled_from(VARIABLE_NAMES), raw_values)
list_maps = st.dictionaries(
    st.sampled_from(["l1", "blocked"]),
    st.frozensets(st.one_of(texts, st.sampled_from(["5", "0.5", "-2", "true", "a"]))),
)

# --- the reference interpreter ------------------------------------------------------------
# Deliberately naive and written from the documented semantics, not from the implementation.

_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def ref_number(value: Any) -> float | None:
    if isinstance(value, float):
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip(" \t\r\n")):
        number = float(value.strip(" \t\r\n"))
        return number if math.isfinite(number) else None
    return None


def ref_truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def ref_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        whole = value == int(value) and abs(value) < 1e16
        return str(int(value)) if whole else repr(value)
    return str(value)


def ref_load(raw: Any) -> Any:
    if raw is None or isinstance(raw, (bool, str)):
        return raw
    try:
        number = float(raw)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def ref_compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    x: Any
    y: Any
    if isinstance(a, bool) or isinstance(b, bool):
        x, y = ref_truth(a), ref_truth(b)
        if x is None or y is None or op not in ("==", "!="):
            return None
    elif isinstance(a, str) and isinstance(b, str):
        x, y = a, b
    else:
        x, y = ref_number(a), ref_number(b)
        if x is None or y is None:
            return None
    outcomes: dict[str, bool] = {
        "==": x == y,
        "!=": x != y,
        "<": x < y,
        "<=": x <= y,
        ">": x > y,
        ">=": x >= y,
    }
    return outcomes[op]


def ref_arithmetic(op: str, a: Any, b: Any) -> float | None:
    x, y = ref_number(a), ref_number(b)
    if x is None or y is None or (op in "/%" and y == 0):
        return None
    result = {
        "+": lambda: x + y,
        "-": lambda: x - y,
        "*": lambda: x * y,
        "/": lambda: x / y,
        "%": lambda: math.fmod(x, y),
    }[op]()
    return result if math.isfinite(result) else None


def reference(node: Expr, env: Mapping[str, Any], lists: Mapping[str, Collection[str]]) -> Any:
    def ev(child: Expr) -> Any:
        return reference(child, env, lists)

    if isinstance(node, Variable):
        return ref_load(env.get(node.name))
    if isinstance(node, Number):
        return float(node.value)
    if isinstance(node, (String, Boolean)):
        return node.value
    if isinstance(node, Negate):
        number = ref_number(ev(node.operand))
        return None if number is None else -number
    if isinstance(node, Arithmetic):
        return ref_arithmetic(node.op, ev(node.left), ev(node.right))
    if isinstance(node, Call):
        text = ref_text(ev(node.argument))
        if text is None:
            return None
        return text.lower() if node.function == "lowercase" else text.upper()
    if isinstance(node, RegexMatch):
        text = ref_text(ev(node.argument))
        return None if text is None else re.fullmatch(node.pattern, text) is not None
    if isinstance(node, Comparison):
        return ref_compare(node.op, ev(node.left), ev(node.right))
    if isinstance(node, Membership):
        text = ref_text(ev(node.value))
        if isinstance(node.collection, ListRef):
            entries: Collection[str] | None = lists.get(node.collection.name)
        else:
            items = node.collection.items
            entries = [
                item if isinstance(item, str) else ref_text(float(item)) or "" for item in items
            ]
        if text is None or entries is None:
            return None
        return (text in entries) != node.negated
    if isinstance(node, Not):
        truth = ref_truth(ev(node.operand))
        return None if truth is None else not truth
    assert isinstance(node, Logical)
    truths = [ref_truth(ev(operand)) for operand in node.operands]
    decisive = node.op == "or"  # True decides "or", False decides "and"
    if decisive in truths:
        return decisive
    return None if None in truths else not decisive


# --- 2. generated trees: parse back and evaluate like the reference -------------------------


@FUZZ
@given(conditions, variable_maps, list_maps)
def test_generated_rules_parse_back_and_match_the_reference(
    tree: Expr, env: dict[str, Any], lists: dict[str, frozenset[str]]
) -> None:
    text = render(tree)
    assume(len(text) <= MAX_RULE_LENGTH)
    rule = parse_rule(text)
    assert rule.tree == tree
    expected = reference(tree, env, lists)
    assert _compile(rule.tree)(env, lists) == expected
    assert rule.evaluate(env, lists) is (ref_truth(expected) is True)
    # The negation tells NULL from FALSE through the public API as well.
    negated = parse_rule(render(Not(tree)))
    assert negated.evaluate(env, lists) is (ref_truth(expected) is False)


TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|\$\w+|@\w+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[A-Za-z_]+|[=!<>]=|\S',
    re.DOTALL,
)


def noisy(tree: Expr, rng: random.Random) -> str:
    """Render with random case, spacing, redundant parentheses and '!' for 'not'."""

    def keyword(word: str) -> str:
        return "".join(c.upper() if rng.random() < 0.5 else c for c in word)

    def space() -> str:
        return rng.choice(["", " ", "  ", "\n", "\t "])

    tokens = TOKEN.findall(render(tree))
    out: list[str] = []
    for index, token in enumerate(tokens):
        if token[0].isalpha():
            unary_not = token == "not" and tokens[index + 1 : index + 2] != ["in"]
            token = "!" if unary_not and rng.random() < 0.3 else keyword(token)
            out.append(" " + token + " ")  # keywords need separating from neighbours
        else:
            out.append(space() + token + space())
    text = "".join(out)
    if rng.random() < 0.3:
        text = "(" + text + ")"
    return text


@FUZZ
@given(conditions, st.randoms(use_true_random=False))
def test_noisy_spellings_parse_to_the_same_tree(tree: Expr, rng: random.Random) -> None:
    text = noisy(tree, rng)
    assume(len(text) <= MAX_RULE_LENGTH)
    assert parse_rule(text).tree == tree


# --- 3. render(parse(x)) round-trips ------------------------------------------------------


@FUZZ
@given(
    st.one_of(st.text(max_size=200), st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join))
)
def test_render_of_parse_round_trips(text: str) -> None:
    try:
        rule = parse_rule(text)
    except RuleSyntaxError:
        return
    canonical = render(rule.tree)
    again = parse_rule(canonical)
    assert again.tree == rule.tree
    assert render(again.tree) == canonical
    assert again.variables == rule.variables
    assert again.lists == rule.lists


@FUZZ
@given(conditions)
def test_render_is_a_fixed_point(tree: Expr) -> None:
    text = render(tree)
    assume(len(text) <= MAX_RULE_LENGTH)
    assert render(parse_rule(text).tree) == text
