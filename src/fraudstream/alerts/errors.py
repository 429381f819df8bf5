"""Errors of the alerting package.

:class:`AlertError` is the root, a :class:`~fraudstream.errors.FraudstreamError`. A channel
that could not deliver raises :class:`ChannelError` (the dispatcher retries it with backoff);
messages never contain secrets or customer data, only the channel and what went wrong.
"""

from __future__ import annotations

from fraudstream.errors import FraudstreamError, InvalidInput


class AlertError(FraudstreamError):
    """Base class of every error the alerting package raises."""


class AlertConfigError(AlertError, InvalidInput):
    """A channel setting or option was rejected (no host, bad port, bad template...)."""


class ChannelError(AlertError):
    """A channel did not accept a message now (server down, refused, HTTP error)."""


class LedgerUnavailable(AlertError):
    """The alert ledger could not be read or written (locked, disk full); retry."""


class SignatureError(AlertError):
    """A webhook signature is missing, malformed, too old or does not match."""
