"""Plain-words parse errors: lark's terminal names ("RPAR", "$END") never reach rule authors.

Turns lark's UnexpectedToken / UnexpectedCharacters into :class:`RuleSyntaxError`s such as
"line 1, column 12: expected a value ... but found 'and'", with hints for common slips
("=" for "==", "&&", bare words, unclosed strings).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from lark import Lark, Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from fraudstream.detector.rules.errors import RuleSyntaxError

_VALUE_START: Final = "a value ($variable, number, \"string\", true, false, function or '(')"
# Terminal -> spelling, in the order operators are listed in messages.
_OPERATORS: Final = {
    "EQ": "==",
    "NE": "!=",
    "LT": "<",
    "LE": "<=",
    "GT": ">",
    "GE": ">=",
    "IN": "in",
    "NOT": "not in",
    "PLUS": "+",
    "MINUS": "-",
    "STAR": "*",
    "SLASH": "/",
    "PERCENT": "%",
    "AND": "and",
    "OR": "or",
}
_PUNCTUATION: Final = {
    "COMMA": "','",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
}
_FUNCTIONS: Final = "regex_match, lowercase and uppercase"
_WORD = re.compile(r"\w+")


def describe_expected(expected: set[str] | frozenset[str]) -> str:
    """Plain words for a set of lark terminal names, e.g. "an operator (+ - and or) or ')'"."""
    phrases: list[str] = []
    starts_value = "VARIABLE" in expected
    if starts_value:
        phrases.append(_VALUE_START)
        if "NOT" in expected:
            phrases.append("'not'")
    else:
        if "STRING" in expected:
            phrases.append('a "string"')
        if "NUMBER" in expected:
            phrases.append("a number")
        # Where a value is expected, "-" and "not" start it rather than being operators.
        operators = [text for name, text in _OPERATORS.items() if name in expected]
        if operators == ["-"]:
            pass
        elif len(operators) == 1:
            phrases.append(f"'{operators[0]}'")
        elif operators:
            phrases.append(f"an operator ({' '.join(operators)})")
    if "LIST_NAME" in expected:
        phrases.append("a list (@name or [...])")
    phrases.extend(
        text
        for name, text in _PUNCTUATION.items()
        if name in expected
        and not (name == "LSQB" and "LIST_NAME" in expected)
        and not (name == "LPAR" and starts_value)
    )
    if "$END" in expected:
        phrases.append("the end of the rule")
    if not phrases:  # pragma: no cover - every parser state accepts something
        return "something else"
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _quote(text: str) -> str:
    """Quote what was found for a message: short, and with control characters escaped."""
    if len(text) > 30:
        text = text[:27] + "..."
    if not text.isprintable():
        text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return f"'{text}'"


def translate(source: str, exc: UnexpectedInput, parser: Lark) -> RuleSyntaxError:
    """The :class:`RuleSyntaxError` to raise for lark's ``exc`` while parsing ``source``."""
    if isinstance(exc, UnexpectedToken):
        return _unexpected_token(source, exc)
    if isinstance(exc, UnexpectedCharacters):
        return _unexpected_character(source, exc, parser)
    position = getattr(exc, "pos_in_stream", None) or 0  # pragma: no cover - LALR never
    return RuleSyntaxError("could not parse the rule", source=source, position=position)


def _unexpected_token(source: str, exc: UnexpectedToken) -> RuleSyntaxError:
    token: Token = exc.token
    try:
        # The exact set the parser accepts here; exc.expected can include extras that LALR's
        # merged states allow elsewhere (such as ')' with no '(' open).
        expected = set(exc.accepts or exc.expected)
    except LarkError:  # pragma: no cover - defensive: fall back to lark's approximation
        expected = set(exc.expected)
    where = describe_expected(expected)
    if token.type == "$END":
        position = len(source.rstrip())
        return RuleSyntaxError(
            f"expected {where} but the rule ends here", source=source, position=position
        )
    found = _quote(token.value)
    hint = ""
    if token.type in {"LT", "LE", "GT", "GE", "EQ", "NE"} and "VARIABLE" not in expected:
        hint = "; comparisons cannot be chained, join them with 'and'"
    elif token.type == "RPAR" and "RPAR" not in expected:
        hint = "; no '(' is open"
    return RuleSyntaxError(
        f"expected {where} but found {found}{hint}",
        source=source,
        position=token.start_pos if token.start_pos is not None else 0,
    )


def _accepted_after(parser: Lark, prefix: str, fallback: set[str] | None) -> set[str]:
    """Terminals the parser accepts after ``prefix`` (which lexed cleanly).

    The lexer's own "allowed" set is per lexer state, so it misses the end of the rule and
    can include tokens that only fit other paths through merged LALR states.
    """
    try:
        interactive = parser.parse_interactive(prefix)
        interactive.exhaust_lexer()
        accepts: Callable[[], set[str]] = interactive.accepts  # lark leaves it unannotated
        return set(accepts())
    except LarkError:  # pragma: no cover - the prefix was already lexed and parsed once
        return set(fallback or ())


def _unexpected_character(source: str, exc: UnexpectedCharacters, parser: Lark) -> RuleSyntaxError:
    position = int(exc.pos_in_stream or 0)
    char = source[position]
    rest = source[position:]
    where = describe_expected(_accepted_after(parser, source[:position], exc.allowed))
    if char == '"':
        reason = 'this string is never closed (a closing " is missing)'
    elif char in "$@":
        kind = "variable" if char == "$" else "list"
        reason = (
            f"'{char}' must be followed by a {kind} name "
            "(a letter or '_', then letters, digits or '_')"
        )
    elif rest.startswith(("&&", "||")):
        reason = f"found {_quote(rest[:2])}; write 'and' / 'or' instead"
    elif char == "=":
        reason = "found '='; write '==' to compare"
    elif (word := _WORD.match(rest)) is not None:
        text = word.group()
        after = source[position + len(text) :].lstrip()
        if after.startswith("("):
            reason = f"unknown function {_quote(text)} (the functions are {_FUNCTIONS})"
        else:
            reason = (
                f"expected {where} but found {_quote(text)} "
                "(variables start with '$', lists with '@', and text goes in double quotes)"
            )
    else:
        reason = f"expected {where} but found {_quote(char)}"
    return RuleSyntaxError(reason, source=source, position=position)
