"""The channel contract: deliver one alert, or a digest of several, or raise ChannelError.

A channel's ``name`` keys the ledger: one delivery per (event id, channel name). Channels are
called from their own worker thread only, so an implementation need not be thread-safe, and
a slow or dead channel never delays another.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from fraudstream.alerts.message import Alert

__all__ = ["Channel", "delivery_id"]


def delivery_id(alerts: Sequence[Alert], channel: str) -> str:
    """A stable id for one message: the event id, or ``digest-<first>-<n>`` for a digest.

    Sent as the webhook ``Idempotency-Key`` and in the e-mail ``Message-ID``, so a receiver
    can drop the one duplicate a crash between sending and recording may cause.
    """
    if len(alerts) == 1:
        return f"{alerts[0].event_id}.{channel}"
    return f"digest-{alerts[0].event_id}-{len(alerts)}.{channel}"


class Channel(ABC):
    """Delivers alerts somewhere (see the module docs)."""

    #: The ledger key of this channel (e.g. ``email``, ``webhook``, ``slack``).
    name: str

    @abstractmethod
    def send(self, alerts: Sequence[Alert]) -> None:
        """Deliver one alert (``len(alerts) == 1``) or a digest of several. Returns once the
        receiving server accepted it; raises :class:`~fraudstream.alerts.errors.ChannelError`
        otherwise."""

    @abstractmethod
    def describe(self) -> str:
        """Where this channel sends, safe to log (no secrets, no recipients' passwords)."""

    def close(self) -> None:  # noqa: B027 (optional hook: most channels hold nothing)
        """Release connections."""
