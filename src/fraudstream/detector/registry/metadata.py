"""The vocabulary events are described with: entity types, labels, outcomes, variables, event
types.

As in AFD, an event type's variables and labels cannot be removed once added: stored events
and models trained on the type refer to them.
"""

from __future__ import annotations

from collections.abc import Sequence

from fraudstream.detector.registry.core import RegistryCore
from fraudstream.detector.registry.names import identifier, now_iso, variable_name
from fraudstream.detector.registry.store import Doc
from fraudstream.errors import Conflict, InvalidInput

DATA_TYPES = ("STRING", "INTEGER", "FLOAT", "BOOLEAN", "DATETIME")
DATA_SOURCES = ("EVENT", "MODEL_SCORE", "EXTERNAL_MODEL_SCORE")


class MetadataResources(RegistryCore):
    """The bottom layer: their users (models, detectors, rules) come later, so "in use" checks
    read the store."""

    # -- entity types, labels, outcomes ---------------------------------------------------

    def put_entity_type(self, name: str, description: str = "") -> Doc:
        return self._put_named("entity_type", name, description)

    def get_entity_types(self, name: str | None = None) -> list[Doc]:
        return self._get_named("entity_type", name, "entity type")

    def delete_entity_type(self, name: str) -> None:
        users = (e["name"] for e in self.get_event_types() if name in e["entityTypes"])
        self._delete_unused("entity_type", name, "entity type", users)

    def put_label(self, name: str, description: str = "") -> Doc:
        return self._put_named("label", name, description)

    def get_labels(self, name: str | None = None) -> list[Doc]:
        return self._get_named("label", name, "label")

    def delete_label(self, name: str) -> None:
        users = (e["name"] for e in self.get_event_types() if name in e.get("labels", []))
        self._delete_unused("label", name, "label", users)

    def put_outcome(self, name: str, description: str = "") -> Doc:
        return self._put_named("outcome", name, description)

    def get_outcomes(self, name: str | None = None) -> list[Doc]:
        return self._get_named("outcome", name, "outcome")

    def delete_outcome(self, name: str) -> None:
        users = (f"rule {r['ruleId']}" for r in self.store.list("rule") if name in r["outcomes"])
        self._delete_unused("outcome", name, "outcome", users)

    # -- variables ---------------------------------------------------------------------------

    def create_variable(
        self,
        name: str,
        data_type: str,
        data_source: str,
        default_value: str,
        description: str = "",
        variable_type: str | None = None,
    ) -> Doc:
        variable_name(name)
        if data_type not in DATA_TYPES:
            raise InvalidInput(f"dataType must be one of {', '.join(DATA_TYPES)}")
        if data_source not in DATA_SOURCES:
            raise InvalidInput(f"dataSource must be one of {', '.join(DATA_SOURCES)}")
        if self.store.get("variable", name) is not None:
            raise Conflict(f"variable {name!r} already exists")
        now = now_iso()
        doc = {
            "name": name,
            "dataType": data_type,
            "dataSource": data_source,
            "defaultValue": default_value,
            "description": description or "",
            "variableType": variable_type or _default_variable_type(data_type),
            "createdTime": now,
            "lastUpdatedTime": now,
            "arn": self._arn("variable", name),
        }
        self.store.put("variable", name, doc)
        return doc

    def update_variable(
        self,
        name: str,
        default_value: str | None = None,
        description: str | None = None,
        variable_type: str | None = None,
    ) -> Doc:
        with self.store.transaction():
            doc = self._require("variable", name, f"variable {name!r}")
            if default_value is not None:
                doc["defaultValue"] = default_value
            if description is not None:
                doc["description"] = description
            if variable_type is not None:
                doc["variableType"] = variable_type
            doc["lastUpdatedTime"] = now_iso()
            self.store.put("variable", name, doc)
        return doc

    def get_variables(self, name: str | None = None) -> list[Doc]:
        return self._get_named("variable", name, "variable")

    def delete_variable(self, name: str) -> None:
        users = (e["name"] for e in self.get_event_types() if name in e["eventVariables"])
        self._delete_unused("variable", name, "variable", users)

    # -- event types -----------------------------------------------------------------------------

    def put_event_type(
        self,
        name: str,
        event_variables: Sequence[str],
        entity_types: Sequence[str],
        labels: Sequence[str] = (),
        description: str = "",
        event_ingestion: str = "ENABLED",
    ) -> Doc:
        identifier(name, "name")
        if not event_variables:
            raise InvalidInput("eventVariables must name at least one variable")
        if not entity_types:
            raise InvalidInput("entityTypes must name at least one entity type")
        for var in event_variables:
            self._require("variable", var, f"variable {var!r}")
        for ent in entity_types:
            self._require("entity_type", ent, f"entity type {ent!r}")
        for label in labels:
            self._require("label", label, f"label {label!r}")
        with self.store.transaction():
            old = self.store.get("event_type", name)
            if old is not None:
                gone_vars = set(old["eventVariables"]) - set(event_variables)
                gone_labels = set(old.get("labels", [])) - set(labels)
                if gone_vars or gone_labels:
                    raise InvalidInput(
                        "variables and labels cannot be removed from an event type "
                        f"(missing: {', '.join(sorted(gone_vars | gone_labels))})"
                    )
            return self._put_named(
                "event_type",
                name,
                description,
                eventVariables=list(event_variables),
                labels=list(labels),
                entityTypes=list(entity_types),
                eventIngestion=event_ingestion,
            )

    def get_event_types(self, name: str | None = None) -> list[Doc]:
        return self._get_named("event_type", name, "event type")

    def event_type(self, name: str) -> Doc:
        return self._require("event_type", name, f"event type {name!r}")

    def delete_event_type(self, name: str) -> None:
        users = [d["detectorId"] for d in self.store.list("detector") if d["eventTypeName"] == name]
        users += [m["modelId"] for m in self.store.list("model") if m["eventTypeName"] == name]
        self._delete_unused("event_type", name, "event type", users)


def _default_variable_type(data_type: str) -> str:
    return "NUMERIC" if data_type in ("INTEGER", "FLOAT") else "CATEGORICAL"
