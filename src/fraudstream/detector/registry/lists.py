"""Lists: named sets of strings that rules test with ``in @name``.

Lists stand alone (rules look them up in the store), so they only need the shared core.
"""

from __future__ import annotations

from collections.abc import Sequence

from fraudstream.detector.registry.core import RegistryCore
from fraudstream.detector.registry.names import identifier, now_iso
from fraudstream.detector.registry.store import Doc
from fraudstream.errors import Conflict, InvalidInput

LIST_UPDATE_MODES = ("REPLACE", "APPEND", "REMOVE")
MAX_LIST_ELEMENTS = 100_000


class ListResources(RegistryCore):
    """AFD's lists, deduplicated in insertion order."""

    def create_list(
        self,
        name: str,
        elements: Sequence[str] = (),
        variable_type: str | None = None,
        description: str = "",
    ) -> Doc:
        identifier(name, "name")
        if self.store.get("list", name) is not None:
            raise Conflict(f"list {name!r} already exists")
        _check_elements(elements)
        now = now_iso()
        doc = {
            "name": name,
            "description": description,
            "variableType": variable_type,
            "elements": list(dict.fromkeys(elements)),
            "createdTime": now,
            "updatedTime": now,
            "arn": self._arn("list", name),
        }
        self.store.put("list", name, doc)
        return doc

    def update_list(
        self,
        name: str,
        elements: Sequence[str] | None = None,
        update_mode: str = "REPLACE",
        description: str | None = None,
        variable_type: str | None = None,
    ) -> Doc:
        if update_mode not in LIST_UPDATE_MODES:
            raise InvalidInput(f"updateMode must be one of {', '.join(LIST_UPDATE_MODES)}")
        with self.store.transaction():
            doc = self.get_list(name)
            if elements is not None:
                _check_elements(elements)
                current = dict.fromkeys(doc["elements"])
                if update_mode == "REPLACE":
                    current = dict.fromkeys(elements)
                elif update_mode == "APPEND":
                    current.update(dict.fromkeys(elements))
                else:
                    for element in elements:
                        current.pop(element, None)
                _check_elements(list(current))
                doc["elements"] = list(current)
            if description is not None:
                doc["description"] = description
            if variable_type is not None:
                doc["variableType"] = variable_type
            doc["updatedTime"] = now_iso()
            self.store.put("list", name, doc)
        return doc

    def get_list(self, name: str) -> Doc:
        return self._require("list", name, f"list {name!r}")

    def get_lists(self) -> list[Doc]:
        return self.store.list("list")

    def delete_list(self, name: str) -> None:
        self.get_list(name)
        self.store.delete("list", name)


def _check_elements(elements: Sequence[str]) -> None:
    if len(elements) > MAX_LIST_ELEMENTS:
        raise InvalidInput(f"a list holds at most {MAX_LIST_ELEMENTS} elements")
    for element in elements:
        if not isinstance(element, str) or not 1 <= len(element) <= 320:
            raise InvalidInput("list elements must be strings of 1-320 characters")
