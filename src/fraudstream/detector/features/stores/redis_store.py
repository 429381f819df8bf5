"""Redis state store: one feature state shared by many scoring processes and machines.

A ``get_many`` is one ``MGET`` and a ``put_many`` one call, so an event costs two round trips
whatever its number of keys. Shared keys (an IP, an e-mail, a BIN) are updated by whichever
worker sees an event that uses them, so writes are *checked* by default: ``put_many`` runs a
small Lua script that stores the new states only if none of them changed since this client
read them, and raises :class:`StateConflict` otherwise (``FeatureExtractor.process`` then
re-reads and recomputes). That makes concurrent updates exact instead of last-writer-wins.
``checked=False`` skips the check (one ``MSET``; for a single writer).

The Lua script touches several keys, so on Redis Cluster all keys must hash to one slot
(use a ``{...}`` hash tag in ``prefix``), or use ``checked=False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

from fraudstream.detector.features.state import EntityState
from fraudstream.detector.features.stores.base import StateConflict, StateStore

# KEYS: prefixed keys. ARGV[1]: TTL in ms (0: none), then per key: expected bytes ('' = the
# key must not exist; states are never empty), new bytes. Returns 0, or the 1-based index of
# the first key that changed.
_CHECKED_SET = """
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local expected = ARGV[2 * i]
  local current = redis.call('GET', key)
  if expected == '' then
    if current then return i end
  elseif current ~= expected then
    return i
  end
end
for i, key in ipairs(KEYS) do
  if ttl > 0 then
    redis.call('SET', key, ARGV[2 * i + 1], 'PX', ttl)
  else
    redis.call('SET', key, ARGV[2 * i + 1])
  end
end
return 0
"""


class RedisStateStore(StateStore):
    """States as serialised bytes under ``prefix + key`` in Redis.

    ``ttl_seconds`` lets states of entities that went quiet expire (refreshed on each write).
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "fraudstream:features:",
        ttl_seconds: float | None = None,
        checked: bool = True,
        client: redis.Redis | None = None,
    ) -> None:
        self._client: redis.Redis = client if client is not None else redis.Redis.from_url(url)
        self._prefix = prefix
        self._ttl_ms = 0 if ttl_seconds is None else max(1, int(ttl_seconds * 1000))
        self._script = self._client.register_script(_CHECKED_SET) if checked else None
        self._read: dict[str, bytes | None] = {}  # what we last read, for the check

    def get_many(self, keys: Iterable[str]) -> dict[str, EntityState | None]:
        keys = list(keys)
        if not keys:
            return {}
        prefix = self._prefix
        values = self._client.mget([prefix + key for key in keys])
        found: dict[str, EntityState | None] = {}
        read = self._read
        for key, value in zip(keys, values, strict=True):
            if value is None:
                found[key] = None
                read[key] = None
            else:
                blob = value if isinstance(value, bytes) else value.encode()
                found[key] = EntityState.from_bytes(blob)
                read[key] = blob
        return found

    def put_many(self, states: Mapping[str, EntityState | None]) -> None:
        items = [(key, state.to_bytes()) for key, state in states.items() if state is not None]
        if not items:
            return
        prefix = self._prefix
        if self._script is None:
            self._write_unchecked(items)
        else:
            args: list[Any] = [self._ttl_ms]
            for key, blob in items:
                expected = self._read.get(key)
                args.append(b"" if expected is None else expected)
                args.append(blob)
            changed = int(self._script(keys=[prefix + key for key, _ in items], args=args))
            if changed:
                for key, _ in items:
                    self._read.pop(key, None)
                raise StateConflict(
                    f"feature state {items[changed - 1][0]!r} was changed by another writer"
                )
        read = self._read
        for key, blob in items:
            read[key] = blob
        if len(read) > 4096:  # only the last event's keys matter; keep this bounded
            read.clear()

    def _write_unchecked(self, items: list[tuple[str, bytes]]) -> None:
        prefix = self._prefix
        if not self._ttl_ms:
            self._client.mset({prefix + key: blob for key, blob in items})
            return
        pipe = self._client.pipeline(transaction=False)
        for key, blob in items:
            pipe.set(prefix + key, blob, px=self._ttl_ms)
        pipe.execute()

    def delete_all(self) -> int:
        """Remove every state under this store's prefix (tests, re-training from scratch)."""
        removed = 0
        batch: list[Any] = []
        for name in self._client.scan_iter(match=self._prefix + "*", count=1000):
            batch.append(name)
            if len(batch) >= 1000:
                removed += int(self._client.delete(*batch))
                batch.clear()
        if batch:
            removed += int(self._client.delete(*batch))
        self._read.clear()
        return removed

    def close(self) -> None:
        self._client.close()
