"""Errors raised for rule text, positioned so an editor can underline the culprit."""

from __future__ import annotations

from fraudstream.errors import InvalidInput


def line_and_column(source: str, position: int) -> tuple[int, int]:
    """1-based line and column of a 0-based character offset in ``source``."""
    position = max(0, min(position, len(source)))
    line = source.count("\n", 0, position) + 1
    column = position - (source.rfind("\n", 0, position) + 1) + 1
    return line, column


class RuleSyntaxError(InvalidInput):
    """A rule expression was rejected while parsing or validating it.

    ``position`` is the 0-based character offset, ``line`` and ``column`` are 1-based,
    ``reason`` is the message without its location prefix and ``source`` the rule text.
    Validation failures found after the grammar accepted the text (a bad regex,
    ``1 and $x``) use this class too, because to the rule author they are the same thing:
    this text is not a valid rule, and here is where.
    """

    def __init__(self, reason: str, *, source: str, position: int) -> None:
        line, column = line_and_column(source, position)
        where = f"line {line}, column {column}"
        super().__init__(f"{where}: {reason}", problems=[(where, reason)])
        self.reason = reason
        self.source = source
        self.position = max(0, min(position, len(source)))
        self.line = line
        self.column = column

    def __reduce__(self) -> tuple[object, tuple[str, str, int]]:
        # The keyword-only constructor defeats Exception's default pickling; errors cross
        # process boundaries (workers, the API), so spell out how to rebuild one.
        return (_rebuild, (self.reason, self.source, self.position))


def _rebuild(reason: str, source: str, position: int) -> RuleSyntaxError:
    return RuleSyntaxError(reason, source=source, position=position)
