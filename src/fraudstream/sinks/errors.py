"""Errors of the decision sinks and stores.

:class:`SinkError` is the root, a :class:`~fraudstream.errors.FraudstreamError`. The sink
consumer retries :class:`SinkUnavailable` (the database or cluster is down, a lock timed out)
with backoff and stops on anything else, which retrying cannot fix. Messages never contain
passwords: build them from :func:`fraudstream.sinks.url.redact_url` output only.
"""

from __future__ import annotations

from fraudstream.errors import FraudstreamError, InvalidInput, NotFound


class SinkError(FraudstreamError):
    """Base class of every error a sink or decision store raises."""


class SinkUnavailable(SinkError):
    """The store could not be reached or did not accept a write now; retrying may succeed."""


class SinkInputError(SinkError, InvalidInput):
    """A store URL, query argument or option was rejected."""


class DecisionNotFound(SinkError, NotFound):
    """No decision with that event id is stored."""
