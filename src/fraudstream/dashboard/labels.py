"""An analyst's verdict on a decision, kept where both reporting and retraining see it.

The label goes on the decision in the store (it leaves the review queue and counts in
``quality(truth="analyst")``) and on the stored event in the engine's event store (so the
next training run learns from it, as AFD's label update does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fraudstream.detector import Engine
from fraudstream.detector.defaults import EVENT_TYPE
from fraudstream.errors import NotFound
from fraudstream.sinks import AnalystLabel, DecisionNotFound, DecisionStore
from fraudstream.sinks.queries import Label

__all__ = ["LABELS", "Labelled", "label_decision"]

#: What the analyst may say, and how the page names it.
LABELS: dict[str, str] = {"fraud": "Fraud", "legit": "Legitimate"}


@dataclass(frozen=True)
class Labelled:
    label: AnalystLabel
    #: False when the event is not in this engine's event store (nothing to retrain from).
    event_updated: bool


def _event_type(engine: Engine, detector_id: object) -> str:
    if isinstance(detector_id, str):
        try:
            return str(engine.registry.detector(detector_id)["eventTypeName"])
        except NotFound:
            pass
    return EVENT_TYPE


def label_decision(
    store: DecisionStore, engine: Engine, event_id: str, label: Label, analyst: str, note: str = ""
) -> Labelled:
    """Label the decision and its stored event; :class:`DecisionNotFound` if unknown."""
    decision = store.get(event_id)
    if decision is None:
        raise DecisionNotFound(f"decision {event_id!r} not found")
    stored = store.set_label(event_id, label, analyst=analyst, note=note)
    fd = decision.record.get("fd")
    event_type = _event_type(engine, fd.get("detector_id") if isinstance(fd, dict) else None)
    try:
        engine.events.update_label(event_type, event_id, label, time.time())
    except NotFound:
        return Labelled(stored, False)
    return Labelled(stored, True)
