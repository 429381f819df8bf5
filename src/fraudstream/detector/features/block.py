"""The shape of a feature block: a few named features computed from one key's state.

Every block appends exactly ``len(names)`` values in ``compute`` (NaN for missing) and folds
the event into the state in ``update``; the extractor always calls ``compute`` first, which is
what makes features point-in-time correct.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from fraudstream.detector.features.state import EntityState
from fraudstream.detector.features.view import EventView


class FeatureBlock(ABC):
    """Features read from (and kept in) the state behind one key of an event."""

    __slots__ = ("names",)

    names: tuple[str, ...]

    @abstractmethod
    def key(self, view: EventView) -> str | None:
        """The state key this block reads for the event (``None``: the event has none)."""

    @abstractmethod
    def compute(self, view: EventView, state: EntityState | None, out: list[float]) -> None:
        """Append this block's features for ``view`` given the state *before* the event."""

    @abstractmethod
    def update(self, view: EventView, state: EntityState) -> None:
        """Fold the event into ``state`` (already counted and de-duplicated by the caller)."""
