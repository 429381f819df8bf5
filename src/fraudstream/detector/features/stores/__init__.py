"""Feature state stores: the abstract base beside an in-process and a Redis implementation."""

from fraudstream.detector.features.stores.base import StateConflict, StateStore
from fraudstream.detector.features.stores.memory import MemoryStateStore
from fraudstream.detector.features.stores.redis_store import RedisStateStore

__all__ = ["MemoryStateStore", "RedisStateStore", "StateConflict", "StateStore"]
