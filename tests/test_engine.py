"""The engine end to end: a trained detector scores, versions switch live, labels retrain."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fixtures.detector import TRAINING_CUSTOMERS, TRAINING_SEED
from fraudstream.detector import Engine
from fraudstream.detector.defaults import DETECTOR_ID, MODEL_ID, MODEL_TYPE
from fraudstream.detector.registry import Registry, SQLiteDocumentStore
from fraudstream.detector.trainer import run_training
from fraudstream.errors import InvalidInput, NotFound
from fraudstream.events import Event, parse_transaction
from fraudstream.simulate import FakeClock, LiveGenerator, Truth, build_population

SCORE = f"${MODEL_ID}_insightscore"


def live_events(n: int, *, seed: int = 11, fraud_rate: float = 0.05) -> list[tuple[Event, Truth]]:
    clock = FakeClock(1_700_000_000.0)
    gen = LiveGenerator(
        50.0,
        seed=seed,
        population=build_population(TRAINING_CUSTOMERS, TRAINING_SEED),
        fraud_rate=fraud_rate,
        clock=clock.time,
        sleep=clock.sleep,
        limit=n,
        time_scale="natural",
    )
    return [(parse_transaction(record).to_event(), truth) for record, truth in gen]


@pytest.fixture
def engine(detector_home: Path) -> Engine:
    eng = Engine.open(detector_home, refresh_seconds=0.0)
    yield eng  # type: ignore[misc]
    eng.close()


def test_predict_returns_afd_shapes_and_stores_the_event(engine: Engine) -> None:
    event, _ = live_events(1)[0]
    p = engine.predict(event, DETECTOR_ID)
    score = p.scores[f"{MODEL_ID}_insightscore"]
    assert 0 <= score <= 1000
    assert p.outcome in {"approve", "review", "block"}
    afd = p.to_afd()
    assert afd["modelScores"][0]["modelVersion"]["modelId"] == MODEL_ID
    assert afd["ruleResults"] == [{"ruleId": p.matched[0].rule_id, "outcomes": [p.outcome]}]
    assert engine.events.get_event("transaction", event.event_id).event.entity_id == event.entity_id
    (_, stored), *_ = engine.events.predictions(event_id=event.event_id)
    assert stored["prediction"]["outcome"] == p.outcome


def test_fraud_scores_higher_than_legitimate_traffic(engine: Engine) -> None:
    pairs = live_events(3000)
    scores = [engine.predict(e, DETECTOR_ID).scores[f"{MODEL_ID}_insightscore"] for e, _ in pairs]
    y = np.array([t.is_fraud for _, t in pairs])
    assert y.sum() > 20
    # A small model (8k training events) and customers with no history yet (cold state):
    # it must still rank fraud clearly above legitimate traffic.
    assert roc_auc_score(y, scores) > 0.8


def test_a_version_activated_elsewhere_is_used_without_restart(
    engine: Engine, detector_home: Path
) -> None:
    (first, _), (second, _) = live_events(2)
    before = engine.predict(first, DETECTOR_ID)
    # Another process (its own registry connection) makes a catch-all "review" version ACTIVE.
    other = Registry(SQLiteDocumentStore(detector_home / "registry.db"))
    rule = other.create_rule("everything", DETECTOR_ID, f"{SCORE} >= 0", ["review"])
    active = other.active_version(DETECTOR_ID)
    assert active is not None
    dv = other.create_detector_version(
        DETECTOR_ID,
        [{"ruleId": "everything", "ruleVersion": rule["ruleVersion"]}],
        active["modelVersions"],
    )
    other.update_detector_version_status(DETECTOR_ID, dv["detectorVersionId"], "ACTIVE")
    after = engine.predict(second, DETECTOR_ID)
    assert before.detector_version_id == active["detectorVersionId"]
    assert after.detector_version_id == dv["detectorVersionId"]
    assert after.outcome == "review"
    # Roll back: the old version is ACTIVE again, and scoring follows.
    other.update_detector_version_status(DETECTOR_ID, active["detectorVersionId"], "ACTIVE")
    assert (
        engine.predict(first, DETECTOR_ID, store=False).detector_version_id
        == before.detector_version_id
    )


def test_all_matched_reports_every_matching_rule(engine: Engine) -> None:
    reg = engine.registry
    active = reg.active_version(DETECTOR_ID)
    assert active is not None
    reg.create_rule("small", DETECTOR_ID, "$transaction_amt < 1000000", ["approve"])
    reg.create_rule("any_score", DETECTOR_ID, f"{SCORE} >= 0", ["review"])
    dv = reg.create_detector_version(
        DETECTOR_ID,
        [{"ruleId": "small", "ruleVersion": "1"}, {"ruleId": "any_score", "ruleVersion": "1"}],
        active["modelVersions"],
        rule_execution_mode="ALL_MATCHED",
    )
    event, _ = live_events(1)[0]
    p = engine.predict(event, DETECTOR_ID, dv["detectorVersionId"])
    assert [r.rule_id for r in p.matched] == ["small", "any_score"]
    assert p.outcomes == ["approve", "review"]
    first = engine.predict(event, DETECTOR_ID, store=False)
    assert len(first.matched) == 1  # the ACTIVE version is FIRST_MATCHED


def test_a_replayed_event_is_flagged_and_not_counted_twice(engine: Engine) -> None:
    event, _ = live_events(1)[0]
    assert not engine.predict(event, DETECTOR_ID).duplicate
    key = f"entity:customer:{event.entity_id}"
    count = engine.state.get_many([key])[key].count  # type: ignore[union-attr]
    assert engine.predict(event, DETECTOR_ID).duplicate
    assert engine.state.get_many([key])[key].count == count  # type: ignore[union-attr]


def test_labels_on_stored_events_train_a_new_model_version(engine: Engine) -> None:
    pairs = live_events(4000, fraud_rate=0.06)
    for event, _ in pairs:
        engine.predict(event, DETECTOR_ID)
    for event, truth in pairs:
        label = "fraud" if truth.is_fraud else "legit"
        engine.events.update_label("transaction", event.event_id, label, event.event_time)
    reg = engine.registry
    version = reg.add_model_version(
        MODEL_ID,
        MODEL_TYPE,
        "INGESTED_EVENTS",
        {"labelSchema": {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}}},
        ingested_events_detail={"ingestedEventsTimeWindow": {"startTime": "2000-01-01T00:00:00Z"}},
    )
    done = run_training(reg, engine.events, MODEL_ID, MODEL_TYPE, version["modelVersionNumber"])
    assert done["status"] == "TRAINING_COMPLETE", done.get("statusReason")
    assert done["modelVersionNumber"] == "2.0"
    auc = done["trainingResultV2"]["trainingMetricsV2"]["tfi"]["modelPerformance"]["auc"]
    assert auc > 0.75, auc


def test_observed_events_count_in_the_entity_history(engine: Engine) -> None:
    (first, _), (second, _) = live_events(2)
    engine.compiled(DETECTOR_ID)
    second = dataclasses.replace(second, entity_id=first.entity_id)
    engine.observe(first, "legit", first.event_time)
    key = f"entity:customer:{first.entity_id}"
    assert engine.state.get_many([key])[key] is not None
    assert engine.events.get_event("transaction", first.event_id).label == "legit"


def test_an_event_type_without_ingestion_keeps_predictions_but_not_events(
    engine: Engine,
) -> None:
    first, second = (e for e, _ in live_events(2, seed=21))
    engine.predict(first, DETECTOR_ID)
    doc = engine.registry.event_type("transaction")
    engine.registry.put_event_type(
        doc["name"],
        doc["eventVariables"],
        doc["entityTypes"],
        doc["labels"],
        doc.get("description", ""),
        "DISABLED",
    )
    engine.refresh(force=True)
    engine.predict(second, DETECTOR_ID)

    assert engine.events.predictions(event_id=second.event_id)  # lookups still work
    with pytest.raises(NotFound):
        engine.events.get_event("transaction", second.event_id)
    stats = engine.events.statistics("transaction")
    assert stats.most_recent == max(s.event.event_time for s in engine.events.events("transaction"))
    assert stats.count == sum(1 for _ in engine.events.events("transaction"))
    assert engine.events.get_event("transaction", first.event_id)


def test_a_version_that_cannot_compile_is_not_recompiled_per_event(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = engine.registry.active_version(DETECTOR_ID)
    assert version is not None
    engine.refresh(force=True)
    calls = []

    def broken(ref: dict[str, str]) -> None:
        calls.append(ref)
        raise InvalidInput("the model was trained on another feature layout; retrain it")

    monkeypatch.setattr(engine, "_load_model", broken)
    events = [e for e, _ in live_events(3, seed=31)]
    for event in events:
        with pytest.raises(InvalidInput, match="retrain it"):
            engine.predict(event, DETECTOR_ID)
    assert len(calls) == 1  # remembered until the registry changes
    monkeypatch.undo()
    engine.registry.update_detector_version_metadata(
        DETECTOR_ID, version["detectorVersionId"], "touched"
    )
    engine.refresh(force=True)
    assert engine.predict(events[0], DETECTOR_ID).outcome is not None
