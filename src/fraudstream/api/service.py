"""What both APIs do, written once: scoring, labels, version switches, lists, data files.

The AFD operations and the REST routes are two front doors to these functions, so a
behaviour (a check, a default, a cache invalidation) can never differ between them. They sit
directly on the engine and its registry; nothing here keeps its own copy of a resource except
a short-lived cache of event types for the hot path, refreshed on the engine's schedule.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraudstream.api.settings import Settings
from fraudstream.detector import Engine, Prediction
from fraudstream.detector.registry import Registry
from fraudstream.detector.registry.store import Doc
from fraudstream.detector.trainer import data_location
from fraudstream.detector.training_data import typed_variables
from fraudstream.errors import InvalidInput, NotFound
from fraudstream.events import Event, format_time, parse_time


@dataclass(frozen=True, slots=True)
class EventTypeInfo:
    """An event type as the scoring path needs it: variable data types, entities, labels."""

    name: str
    data_types: Mapping[str, str]
    entity_types: frozenset[str]
    labels: frozenset[str]
    ingestion: bool


class Service:
    """The engine plus the few things the API layer needs around it."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._lock = threading.Lock()
        self._event_types: dict[str, EventTypeInfo] = {}
        self._generation = -1
        self._checked = float("-inf")

    @property
    def registry(self) -> Registry:
        return self.engine.registry

    # -- cache -----------------------------------------------------------------------------

    def changed(self) -> None:
        """After a write: the next request sees it (other processes within refresh_seconds)."""
        self._checked = float("-inf")
        self.engine.refresh(force=True)

    def event_type(self, name: str) -> EventTypeInfo:
        now = time.monotonic()
        if now - self._checked >= self.engine.refresh_seconds:
            self._checked = now
            generation = self.registry.store.generation()
            if generation != self._generation:
                with self._lock:
                    self._event_types = {}
                    self._generation = generation
        cache = self._event_types
        info = cache.get(name)
        if info is None:
            info = self._load_event_type(name)
            cache[name] = info
        return info

    def _load_event_type(self, name: str) -> EventTypeInfo:
        doc = self.registry.event_type(name)
        wanted = set(doc["eventVariables"])
        types = {
            v["name"]: v["dataType"] for v in self.registry.get_variables() if v["name"] in wanted
        }
        return EventTypeInfo(
            name=name,
            data_types=types,
            entity_types=frozenset(doc["entityTypes"]),
            labels=frozenset(doc.get("labels", [])),
            ingestion=doc.get("eventIngestion", "ENABLED") == "ENABLED",
        )

    # -- events ----------------------------------------------------------------------------

    def make_event(
        self,
        event_type: str,
        event_id: str,
        entities: Sequence[Mapping[str, str]],
        timestamp: str,
        variables: Mapping[str, Any],
    ) -> Event:
        """An AFD event, typed by its event type (unknown variables or entities are errors)."""
        info = self.event_type(event_type)
        if not entities:
            raise InvalidInput("entities must name one entity", [("entities", "empty")])
        entity_type = entities[0]["entityType"]
        if entity_type not in info.entity_types:
            raise InvalidInput(
                f"entity type {entity_type!r} is not one of event type {event_type!r}'s "
                f"({', '.join(sorted(info.entity_types))})",
                [("entities[0].entityType", "unknown entity type")],
            )
        return Event(
            event_id=event_id,
            entity_type=entity_type,
            entity_id=entities[0]["entityId"],
            event_time=parse_time(timestamp).timestamp(),
            variables=typed_variables(variables, info.data_types),
            event_type=event_type,
        )

    def predict(
        self,
        event: Event,
        detector_id: str,
        version_id: str | None = None,
        *,
        store: bool = True,
    ) -> Prediction:
        """Score with one detector version (ACTIVE when none is named); ``store=False`` leaves
        no trace (no stored event or prediction, no entity state change)."""
        compiled = self.engine.compiled(detector_id, version_id)
        if compiled.event_type != event.event_type:
            raise InvalidInput(
                f"detector {detector_id!r} scores {compiled.event_type!r} events, "
                f"not {event.event_type!r}",
                [("eventTypeName", "does not match the detector")],
            )
        # The engine picks the compiled version again, atomically: a switch between the two
        # calls only changes which (same event type) version answers, never mixes two.
        return self.engine.predict(event, detector_id, compiled.version_id, store=store)

    def send_event(self, event: Event, label: str | None, label_time: str | None) -> None:
        info = self.event_type(event.event_type)
        if not info.ingestion:
            raise InvalidInput(f"event ingestion is DISABLED for event type {info.name!r}")
        when = self._check_label(info, label, label_time) if label else None
        self.engine.observe(event, label, when)

    def label_event(
        self, event_type: str, event_id: str, label: str, label_time: str | None = None
    ) -> None:
        info = self.event_type(event_type)
        when = self._check_label(info, label, label_time)
        self.engine.events.update_label(event_type, event_id, label, when)

    @staticmethod
    def _check_label(info: EventTypeInfo, label: str, label_time: str | None) -> float:
        if label not in info.labels:
            raise InvalidInput(
                f"label {label!r} is not a label of event type {info.name!r} "
                f"({', '.join(sorted(info.labels)) or 'none defined'})",
                [("assignedLabel", "unknown label")],
            )
        return parse_time(label_time).timestamp() if label_time else time.time()

    def delete_events(self, event_type: str) -> int:
        """Delete every stored event of ``event_type`` (their prediction records stay, as
        AFD's DeleteEventsByEventType leaves them); returns how many were deleted."""
        store = self.engine.events
        ids = [stored.event.event_id for stored in store.events(event_type)]
        for event_id in ids:
            store.delete_event(event_type, event_id)
        return len(ids)

    def stored_event(self, event_type: str, event_id: str) -> dict[str, Any]:
        """A stored event in AFD's ``Event`` shape (variables as text, as AFD returns them)."""
        stored = self.engine.events.get_event(event_type, event_id)
        event = stored.event
        try:
            data_types: Mapping[str, str] = self.event_type(event_type).data_types
        except NotFound:
            data_types = {}
        doc: dict[str, Any] = {
            "eventId": event.event_id,
            "eventTypeName": event.event_type,
            "eventTimestamp": event_time_text(event.event_time),
            "eventVariables": {
                k: variable_text(v, data_types.get(k, "STRING")) for k, v in event.variables.items()
            },
            "entities": [{"entityType": event.entity_type, "entityId": event.entity_id}],
        }
        if stored.label is not None:
            doc["currentLabel"] = stored.label
        if stored.label_time is not None:
            doc["labelTimestamp"] = event_time_text(stored.label_time)
        return doc

    # -- detector versions and lists ---------------------------------------------------------

    def set_version_status(self, detector_id: str, version_id: str, status: str) -> Doc:
        doc = self.registry.update_detector_version_status(detector_id, version_id, status)
        self.changed()
        return doc

    def update_list(
        self,
        name: str,
        elements: Sequence[str] | None,
        mode: str = "REPLACE",
        description: str | None = None,
        variable_type: str | None = None,
        *,
        create: bool = False,
    ) -> Doc:
        """UpdateList; with ``create`` a missing list is created (the REST API's PUT)."""
        try:
            doc = self.registry.update_list(name, elements, mode, description, variable_type)
        except NotFound:
            if not create:
                raise
            if mode == "REMOVE":
                raise
            doc = self.registry.create_list(name, elements or (), variable_type, description or "")
        self.changed()
        return doc

    # -- local data files --------------------------------------------------------------------

    def data_path(self, location: str, field: str, *, must_exist: bool = True) -> Path:
        """A data location (path or ``file://`` URI) inside the operator's data folders.

        Callers may name files, so without this fence an API key would read and write any
        file the server can; the error never says whether an outside path exists.
        """
        try:
            path = data_location(location).expanduser().resolve()
        except InvalidInput as exc:
            raise InvalidInput(str(exc), [(field, "unsupported location")]) from None
        roots = [Path(r).expanduser().resolve() for r in self.settings.data_roots]
        if not any(path == root or path.is_relative_to(root) for root in roots):
            where = ", ".join(str(r) for r in roots) or "none configured"
            raise InvalidInput(
                f"{field} must be inside the server's data folders ({where})",
                [(field, "outside the data folders")],
            )
        if must_exist and not path.is_file():
            raise InvalidInput(f"{field}: no such file: {location}", [(field, "no such file")])
        return path


def variable_text(value: Any, data_type: str) -> str:
    """A typed variable back as AFD's string form (whole INTEGERs without ``.0``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and data_type == "INTEGER":
        return str(int(value))
    return str(value)


def event_time_text(value: float) -> str:
    """An event or label timestamp as AFD returns it from GetEvent: the ``YYYY-MM-DDTHH:MM:SSZ``
    form it is sent in (milliseconds only when there are some)."""
    text = format_time(value)
    return text.replace(".000Z", "Z")


def iso(value: float | None) -> str | None:
    return None if value is None else format_time(value)
