"""Amazon Fraud Detector's rule language (DETECTORPL): parse, check and evaluate rules.

    rule = parse_rule('$sample_model_insightscore > 900 and $ip_address in @blocked_ips')
    rule.variables                  # frozenset({'sample_model_insightscore', 'ip_address'})
    rule.evaluate({"sample_model_insightscore": 950, "ip_address": "10.0.0.1"},
                  {"blocked_ips": {"10.0.0.1"}})   # True

Text is parsed by an LALR parser generated from ``grammar.lark`` into a typed tree
(:mod:`.ast`), validated, and compiled once into closures; rule text is never handed to
``eval``/``exec``. Regexes run on RE2, which cannot backtrack catastrophically.

Syntax
    ``$name`` variables, ``@name`` lists, numbers (``12``, ``-3.5``, ``1e6``), double-quoted
    strings (``\\"`` and ``\\\\`` are escapes; any other backslash is kept, so regexes read
    naturally), ``true``/``false``. Operators, loosest first: ``or``; ``and``; ``not``/``!``;
    comparisons ``== != < <= > >=`` and ``in``/``not in`` (non-associative); ``+ -``;
    ``* / %``; unary ``-``. Functions: ``regex_match("pattern", x)``, ``lowercase(x)``,
    ``uppercase(x)``. Keywords and function names are case-insensitive; variable and list
    names are case-sensitive. At most 4,096 characters and 100 levels of nesting.

Values and NULL
    A variable that is absent, None, NaN or infinite is NULL. Any comparison, arithmetic,
    function or ``in`` with a NULL operand is NULL; ``not NULL`` is NULL; ``and``/``or``
    follow SQL's three-valued logic (``NULL and false`` is false, ``NULL or true`` is true).
    A rule matches only when its result is TRUE, so NULL never matches. A list missing from
    ``lists`` makes ``in`` and ``not in`` NULL (a missing allow-list must not match everyone).
    Evaluation never raises.

Coercion
    Numbers are finite doubles. Comparing a number with a string parses the string as a
    decimal number (surrounding whitespace allowed; not "nan"/"inf"); if it is not one the
    comparison is NULL. Two strings compare as text (case-sensitive, ordered by code point),
    so ``"10" == "10.0"`` is false. Booleans equal booleans or the strings "true"/"false"
    (any case) and have no order. Arithmetic accepts numbers and numeric strings; division
    or ``%`` by zero and overflow give NULL; ``%`` is Java's remainder (sign of the dividend).
    Where a condition is needed (``and``/``or``/``not``, the whole rule) booleans and the
    strings "true"/"false" count; anything else is NULL.

Text (lists, regex_match, lowercase/uppercase)
    A value's text is the string itself, "true"/"false" for booleans, and for numbers the
    canonical form: whole numbers without a fraction (``5.0`` -> "5"), others as Python's
    shortest repr ("0.5"). ``x in [...]``/``x in @list`` is exact, case-sensitive equality
    of x's text with an entry's text (literal numbers use the same canonical form), so
    ``5 in ["5"]`` is true but ``"5.0" in [5]`` is false. ``regex_match`` is a FULL match of
    the text (Java's ``String.matches``, as AFD uses RE2J), not a search.

Validation (``RuleSyntaxError``, raised by :func:`parse_rule`)
    Besides syntax: the regex must compile, numbers must fit a double, and operands must
    make sense where this is known without data: ``1 and $x``, ``$x + "a"`` and a rule that
    is not a condition (``$x + 1``) are rejected. A bare ``$flag`` is allowed.
"""

from __future__ import annotations

from fraudstream.detector.rules.ast import Expr
from fraudstream.detector.rules.errors import RuleSyntaxError
from fraudstream.detector.rules.parser import MAX_RULE_LENGTH
from fraudstream.detector.rules.render import render
from fraudstream.detector.rules.rule import RuleExpression, check_rule, parse_rule
from fraudstream.detector.rules.validate import MAX_DEPTH

__all__ = [
    "MAX_DEPTH",
    "MAX_RULE_LENGTH",
    "Expr",
    "RuleExpression",
    "RuleSyntaxError",
    "check_rule",
    "parse_rule",
    "render",
]
