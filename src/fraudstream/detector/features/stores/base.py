"""Where feature states live between events: the abstract store.

A store maps keys (``entity:customer:42``, ``ip:10.0.0.1``...) to
:class:`~fraudstream.detector.features.state.EntityState` objects. Online scoring does
``get_many -> compute -> update -> put_many`` per event; one round trip each way is what
keeps a networked store (Redis) usable in the hot path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Self

from fraudstream.detector.features.state import EntityState
from fraudstream.errors import Conflict


class StateConflict(Conflict):
    """Another writer changed a state between our ``get_many`` and ``put_many``.

    The caller re-reads and recomputes (``FeatureExtractor.process`` does so itself).
    """


class StateStore(ABC):
    """Abstract key -> :class:`EntityState` store. Use as a context manager to close it."""

    @abstractmethod
    def get_many(self, keys: Iterable[str]) -> dict[str, EntityState | None]:
        """The state of each key (``None``: never stored). May return live objects:
        mutate them only to :meth:`put_many` them back."""

    @abstractmethod
    def put_many(self, states: Mapping[str, EntityState | None]) -> None:
        """Store these states. ``None`` values are skipped, so a ``get_many`` result that
        ``update`` filled in can be passed back as it is. A store shared between processes
        may raise :class:`StateConflict` instead of overwriting a concurrent update."""

    def flush(self) -> None:  # noqa: B027 - optional hook, a no-op for write-through stores
        """Make every ``put_many`` so far durable."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release resources; the store is unusable afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
