"""The root of every error fraudstream raises on purpose.

Each package derives its own errors from :class:`FraudstreamError`, so a caller can catch
everything we raise with one ``except`` and still tell bad input from a broken dependency.
"""

from __future__ import annotations


class FraudstreamError(Exception):
    """Base class of all fraudstream errors."""


class InvalidInput(FraudstreamError, ValueError):
    """Input from outside (an event, a rule, a CSV, a request) was rejected.

    ``problems`` lists ``(where, what)`` pairs so an API can name every bad field at once.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems: list[tuple[str, str]] = problems or []


class NotFound(FraudstreamError, LookupError):
    """A named resource (detector, model version, rule, list, event...) does not exist."""


class Conflict(FraudstreamError):
    """The request contradicts the current state (e.g. editing an ACTIVE detector version)."""
