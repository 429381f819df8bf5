"""What every resource family of the registry shares: the store, ARNs, and named documents.

It is a module of its own, not part of ``registry.py``, so the family modules can build on it
without importing the ``Registry`` that composes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fraudstream.detector.registry.names import arn, identifier, now_iso
from fraudstream.detector.registry.store import Doc, DocumentStore
from fraudstream.errors import Conflict, NotFound


class RegistryCore:
    """The store and region of one installation, and helpers for AFD's plain named resources."""

    def __init__(self, store: DocumentStore, *, region: str = "local") -> None:
        self.store = store
        self.region = region

    def _arn(self, resource: str, name: str) -> str:
        return arn(resource, name, self.region)

    def _require(self, kind: str, key: str, what: str) -> Doc:
        doc = self.store.get(kind, key)
        if doc is None:
            raise NotFound(f"{what} not found")
        return doc

    def _put_named(self, kind: str, name: str, description: str, **extra: Any) -> Doc:
        identifier(name, "name")
        with self.store.transaction():
            old = self.store.get(kind, name)
            now = now_iso()
            doc = {
                "name": name,
                "description": description or "",
                **extra,
                "createdTime": old["createdTime"] if old else now,
                "lastUpdatedTime": now,
                "arn": self._arn(kind.replace("_", "-"), name),
            }
            self.store.put(kind, name, doc)
        return doc

    def _get_named(self, kind: str, name: str | None, what: str) -> list[Doc]:
        if name is not None:
            return [self._require(kind, name, f"{what} {name!r}")]
        return self.store.list(kind)

    def _delete_unused(self, kind: str, name: str, what: str, used_by: Iterable[str]) -> None:
        users = sorted(set(used_by))
        if users:
            raise Conflict(f"{what} {name!r} is in use by {', '.join(users)}")
        self.store.delete(kind, name)
