"""The detector at work: state -> features -> models -> rules -> outcomes, in about a millisecond.

The engine turns registry documents into a compiled detector version (loaded models, parsed
rules, list snapshots) and swaps the whole compiled object when anything changes. A prediction
holds one compiled version from start to end, so switching versions never mixes two in one
answer, and nothing that scores needs a restart: every process notices the registry's change
counter within ``refresh_seconds``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from fraudstream.detector.event_store import EventStore
from fraudstream.detector.features import (
    FeatureExtractor,
    MemoryStateStore,
    StateConflict,
    StateStore,
)
from fraudstream.detector.features.extractor import (
    MAX_CONFLICT_RETRIES,
    back_off_after_conflict,
)
from fraudstream.detector.models import TrainedModel
from fraudstream.detector.prediction import Prediction, RuleResult
from fraudstream.detector.registry import Registry, SQLiteDocumentStore, score_variable
from fraudstream.detector.rules import RuleExpression, parse_rule
from fraudstream.errors import FraudstreamError, NotFound
from fraudstream.events import Event

Explain = Literal["all", "flagged", "none"]
#: Outcomes that need no explanation under ``explain="flagged"``.
QUIET_OUTCOMES = frozenset({"approve"})


@dataclass(frozen=True, slots=True)
class LoadedModel:
    ref: dict[str, str]
    score_name: str
    model: TrainedModel
    extractor: FeatureExtractor


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule_id: str
    rule_version: str
    expression: RuleExpression
    outcomes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompiledVersion:
    detector_id: str
    version_id: str
    event_type: str
    status: str
    mode: str
    models: tuple[LoadedModel, ...]
    rules: tuple[CompiledRule, ...]
    lists: Mapping[str, Collection[str]]
    defaults: Mapping[str, Any]
    #: The event type's ``eventIngestion``: when DISABLED, scored events are not stored (their
    #: predictions still are, for lookups).
    ingest: bool = True


class Engine:
    """Scores events for any detector of one installation."""

    def __init__(
        self,
        registry: Registry,
        events: EventStore,
        state: StateStore,
        *,
        refresh_seconds: float = 1.0,
        explain: Explain = "flagged",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.events = events
        self.state = state
        self.refresh_seconds = refresh_seconds
        self.explain = explain
        self._clock = clock
        self._lock = threading.RLock()
        self._compiled: dict[tuple[str, str], CompiledVersion | FraudstreamError] = {}
        self._active: dict[str, str | None] = {}
        self._models: dict[tuple[str, str, str], tuple[TrainedModel, FeatureExtractor]] = {}
        self._generation = -1
        self._checked = float("-inf")

    @classmethod
    def open(cls, home: Path | str, *, state: StateStore | None = None, **options: Any) -> Engine:
        """The embedded installation in a folder: registry, events and state as SQLite files."""
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        registry = Registry(SQLiteDocumentStore(home / "registry.db"))
        store = state if state is not None else MemoryStateStore(home / "state.db")
        return cls(registry, EventStore(home / "events.db"), store, **options)

    # -- compiled versions ------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Drop compiled versions if the registry changed (checked every refresh_seconds)."""
        now = self._clock()
        if not force and now - self._checked < self.refresh_seconds:
            return
        self._checked = now
        generation = self.registry.store.generation()
        if generation != self._generation:
            with self._lock:
                self._compiled = {}
                self._active = {}
                self._generation = generation

    def compiled(self, detector_id: str, version_id: str | None = None) -> CompiledVersion:
        self.refresh()
        # Local references: another thread's refresh() may swap both dicts at any moment.
        active, cache = self._active, self._compiled
        if version_id is None:
            if detector_id not in active:
                doc = self.registry.active_version(detector_id)
                if doc is None:
                    self.registry.detector(detector_id)  # NotFound if the detector is missing
                active[detector_id] = None if doc is None else doc["detectorVersionId"]
            version_id = active[detector_id]
            if version_id is None:
                raise NotFound(f"detector {detector_id!r} has no ACTIVE version")
        key = (detector_id, version_id)
        compiled = cache.get(key)
        if compiled is None:
            with self._lock:
                try:
                    compiled = self._compile(detector_id, version_id)
                except FraudstreamError as exc:
                    # Remember why (e.g. a model of an older feature layout) until the registry
                    # changes: recompiling on every request would load the model every time.
                    compiled = exc
                cache[key] = compiled
        if isinstance(compiled, FraudstreamError):
            raise compiled.with_traceback(None)
        return compiled

    def _compile(self, detector_id: str, version_id: str) -> CompiledVersion:
        doc = self.registry.detector_version(detector_id, version_id)
        event_type = self.registry.detector(detector_id)["eventTypeName"]
        models = tuple(self._load_model(ref) for ref in doc["modelVersions"])
        rules = []
        for ref in doc["rules"]:
            rule = self.registry.rule(detector_id, ref["ruleId"], ref["ruleVersion"])
            rules.append(
                CompiledRule(
                    rule_id=rule["ruleId"],
                    rule_version=rule["ruleVersion"],
                    expression=parse_rule(rule["expression"]),
                    outcomes=tuple(rule["outcomes"]),
                )
            )
        lists = {d["name"]: frozenset(d["elements"]) for d in self.registry.get_lists()}
        event_type_doc = self.registry.event_type(event_type)
        variables = event_type_doc["eventVariables"]
        defaults = {
            v["name"]: v["defaultValue"]
            for v in self.registry.get_variables()
            if v["name"] in variables and v.get("defaultValue") not in (None, "")
        }
        return CompiledVersion(
            detector_id=detector_id,
            version_id=version_id,
            event_type=event_type,
            status=doc["status"],
            mode=doc["ruleExecutionMode"],
            models=models,
            rules=tuple(rules),
            lists=lists,
            defaults=defaults,
            ingest=event_type_doc.get("eventIngestion", "ENABLED") == "ENABLED",
        )

    def _load_model(self, ref: dict[str, str]) -> LoadedModel:
        key = (ref["modelId"], ref["modelType"], ref["modelVersionNumber"])
        if key not in self._models:
            model = TrainedModel.from_bytes(self.registry.model_artifact(*key))
            self._models[key] = (model, FeatureExtractor.from_config(model.extractor_config))
        model, extractor = self._models[key]
        clean_ref = {k: ref[k] for k in ("modelId", "modelType", "modelVersionNumber")}
        return LoadedModel(clean_ref, score_variable(ref["modelId"]), model, extractor)

    # -- scoring ------------------------------------------------------------------------------

    def predict(
        self,
        event: Event,
        detector_id: str,
        detector_version_id: str | None = None,
        *,
        store: bool = True,
        learn: bool | None = None,
    ) -> Prediction:
        """Score one event.

        ``store`` keeps the prediction (lookups) and, when the event type ingests events, the
        event (retraining); ``learn`` (default: same as ``store``) counts the event in the
        entity state.
        """
        started = time.perf_counter()
        cv = self.compiled(detector_id, detector_version_id)
        with self._lock:
            vectors, duplicate = self._features(cv, event, update=store if learn is None else learn)
        scores = {
            m.score_name: float(m.model.score(vec))
            for m, vec in zip(cv.models, vectors, strict=True)
        }
        variables: dict[str, Any] = {**cv.defaults, **event.variables, **scores}
        evaluated = []
        outcomes: list[str] = []
        for rule in cv.rules:
            matched = rule.expression.evaluate(variables, cv.lists)
            evaluated.append(
                RuleResult(
                    rule.rule_id, rule.rule_version, rule.expression.source, rule.outcomes, matched
                )
            )
            if matched:
                outcomes.extend(o for o in rule.outcomes if o not in outcomes)
                if cv.mode == "FIRST_MATCHED":
                    break
        prediction = Prediction(
            event_id=event.event_id,
            event_type=event.event_type,
            detector_id=cv.detector_id,
            detector_version_id=cv.version_id,
            scores=scores,
            model_versions=[m.ref for m in cv.models],
            evaluated=evaluated,
            outcomes=outcomes,
            duplicate=duplicate,
        )
        if cv.models and self._wants_reasons(prediction):
            prediction.reasons = cv.models[0].model.explain(vectors[0])
        prediction.scoring_ms = (time.perf_counter() - started) * 1000.0
        if store:
            if cv.ingest:
                self.events.put_event(event)
            self.events.put_prediction(
                event,
                cv.detector_id,
                cv.version_id,
                prediction.outcome,
                self._record(event, prediction),
            )
        return prediction

    def _features(
        self, cv: CompiledVersion, event: Event, *, update: bool
    ) -> tuple[list[npt.NDArray[np.float64]], bool]:
        """All models' vectors from the state before the event, then one state update.

        A shared store (Redis) refuses a write over another processor's concurrent one
        (StateConflict): read, compute and update again, so no update is lost and the event
        never becomes a scoring error.
        """
        if not cv.models:
            return [], False
        keys = sorted({k for m in cv.models for k in m.extractor.state_keys(event)})
        for attempt in range(MAX_CONFLICT_RETRIES):
            states = self.state.get_many(keys)
            vectors = [m.extractor.compute(event, states) for m in cv.models]
            if not update:
                return vectors, False
            fresh = [m.extractor.update(event, states) for m in cv.models]
            if not fresh[0]:
                return vectors, True  # already counted: nothing to write
            try:
                self.state.put_many({k: v for k, v in states.items() if v is not None})
            except StateConflict:
                back_off_after_conflict(attempt)
                continue
            return vectors, False
        raise StateConflict(
            f"event {event.event_id!r}: state kept changing under {MAX_CONFLICT_RETRIES} attempts"
        )

    def _wants_reasons(self, prediction: Prediction) -> bool:
        if self.explain == "all":
            return True
        if self.explain == "none":
            return False
        return prediction.outcome is not None and prediction.outcome not in QUIET_OUTCOMES

    def _record(self, event: Event, prediction: Prediction) -> dict[str, Any]:
        return {
            "eventId": event.event_id,
            "eventTypeName": event.event_type,
            "entityType": event.entity_type,
            "entityId": event.entity_id,
            "eventTimestamp": event.event_time,
            "predictionTimestamp": time.time(),
            "prediction": prediction.to_dict(),
            "evaluatedRules": [
                {
                    "ruleId": r.rule_id,
                    "ruleVersion": r.rule_version,
                    "expression": r.expression,
                    "outcomes": list(r.outcomes),
                    "evaluated": True,
                    "matched": r.matched,
                }
                for r in prediction.evaluated
            ],
            "afd": prediction.to_afd(),
        }

    def explain_event(
        self, event: Event, detector_id: str, detector_version_id: str | None = None
    ) -> Prediction:
        """Score without storing anything, always with reasons (for analysts and backtests)."""
        saved, self.explain = self.explain, "all"
        try:
            return self.predict(event, detector_id, detector_version_id, store=False)
        finally:
            self.explain = saved

    def observe(
        self, event: Event, label: str | None = None, label_time: float | None = None
    ) -> None:
        """Store an event and count it in the entity state without scoring it (AFD SendEvent).

        The state is updated for the models of every detector whose ACTIVE version scores this
        event type, so later predictions see the event in the entity's history.
        """
        for extractor in self._extractors_for(event.event_type):
            with self._lock:
                extractor.process(event, self.state)  # retries a concurrent Redis write
        self.events.put_event(event, label, label_time)

    def _extractors_for(self, event_type: str) -> list[FeatureExtractor]:
        self.refresh()
        found: dict[int, FeatureExtractor] = {}
        for detector in self.registry.get_detectors():
            if detector["eventTypeName"] != event_type:
                continue
            try:
                cv = self.compiled(detector["detectorId"])
            except NotFound:
                continue
            for model in cv.models:
                found.setdefault(id(model.extractor), model.extractor)
        return list(found.values())

    def flush(self) -> None:
        self.events.flush()
        self.state.flush()

    def close(self) -> None:
        self.events.close()
        self.state.close()
        self.registry.store.close()
