"""A controllable clock, so pacing can be tested without waiting.

Like bytewax's testing clock: production code takes ``clock`` and ``sleep`` callables
(``time.time`` and ``time.sleep`` by default); tests pass a :class:`FakeClock`'s bound methods,
whose ``sleep`` just moves ``now`` forward.
"""

from __future__ import annotations

#: 2025-01-01T00:00:00Z, a fixed, readable start for fake time.
DEFAULT_FAKE_START = 1_735_689_600.0


class FakeClock:
    """Epoch-seconds time that only moves when told to (``sleep`` or ``advance``)."""

    def __init__(self, start: float = DEFAULT_FAKE_START) -> None:
        self.now = float(start)
        self.slept = 0.0  # total seconds slept: what the real clock would have waited

    def time(self) -> float:
        """The current fake time (epoch seconds); a drop-in for ``time.time``."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` immediately; a drop-in for ``time.sleep``."""
        if seconds > 0:
            self.now += seconds
            self.slept += seconds

    def advance(self, seconds: float) -> None:
        """Let time pass without sleeping (e.g. a slow consumer)."""
        self.now += seconds
