"""The detector that ships: the transaction event type, a trained model and score-band rules.

It is built through the same registry calls an AFD user makes (PutEventType, CreateModel,
CreateRule, CreateDetectorVersion...), so the default is an ordinary, editable detector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fraudstream.detector.engine import Engine
from fraudstream.detector.features import MemoryStateStore
from fraudstream.detector.registry import score_variable
from fraudstream.detector.trainer import Progress, run_training
from fraudstream.detector.training_data import check_afd_csv_header
from fraudstream.errors import FraudstreamError

EVENT_TYPE = "transaction"
ENTITY_TYPE = "customer"
MODEL_ID = "fraudstream_model"
MODEL_TYPE = "TRANSACTION_FRAUD_INSIGHTS"
DETECTOR_ID = "fraudstream_detector"
OUTCOMES = {"approve": "let it through", "review": "hold for an analyst", "block": "decline"}

#: (name, AFD dataType, AFD variableType, default value) for the transaction record.
TRANSACTION_VARIABLES: tuple[tuple[str, str, str, str], ...] = (
    ("transaction_amt", "FLOAT", "PRICE", "0.0"),
    ("email_address", "STRING", "EMAIL_ADDRESS", "unknown@unknown.invalid"),
    ("ip_address", "STRING", "IP_ADDRESS", "0.0.0.0"),  # noqa: S104 (a default value)
    ("transaction_currency", "STRING", "CURRENCY_CODE", "USD"),
    ("billing_longitude", "FLOAT", "NUMERIC", "0.0"),
    ("billing_state", "STRING", "BILLING_STATE", "unknown"),
    ("user_agent", "STRING", "USERAGENT", "unknown"),
    ("billing_street", "STRING", "BILLING_ADDRESS_L1", "unknown"),
    ("billing_city", "STRING", "BILLING_CITY", "unknown"),
    ("card_bin", "INTEGER", "CARD_BIN", "0"),
    ("customer_name", "STRING", "BILLING_NAME", "unknown"),
    ("product_category", "STRING", "PRODUCT_CATEGORY", "misc_pos"),
    ("customer_job", "STRING", "CATEGORICAL", "unknown"),
    ("phone", "STRING", "PHONE_NUMBER", "unknown"),
    ("billing_latitude", "FLOAT", "NUMERIC", "0.0"),
    ("billing_zip", "STRING", "BILLING_ZIP", "unknown"),
)


def define_transaction_event_type(engine: Engine) -> None:
    """Entity type, labels, outcomes, variables and the event type (idempotent)."""
    reg = engine.registry
    with reg.store.transaction():
        reg.put_entity_type(ENTITY_TYPE, "a card holder")
        reg.put_label("fraud", "confirmed fraud")
        reg.put_label("legit", "confirmed legitimate")
        for name, description in OUTCOMES.items():
            reg.put_outcome(name, description)
        known = {v["name"] for v in reg.get_variables()}
        for name, data_type, variable_type, default in TRANSACTION_VARIABLES:
            if name not in known:
                reg.create_variable(name, data_type, "EVENT", default, variable_type=variable_type)
        reg.put_event_type(
            EVENT_TYPE,
            [v[0] for v in TRANSACTION_VARIABLES],
            [ENTITY_TYPE],
            ["fraud", "legit"],
            "a card payment, the reference system's transaction record",
        )


def choose_thresholds(metrics: dict[str, Any]) -> tuple[int, int]:
    """(review, block) score thresholds from the validation threshold table.

    Review: the lowest threshold that flags at most 2% of legitimate traffic. Block: the lowest
    threshold at which at least 90% of what it flags was fraud, never below review.
    """
    table = metrics["threshold_table"]
    review = next((int(r["threshold"]) for r in table if r["fpr"] <= 0.02), 900)
    block = next(
        (int(r["threshold"]) for r in table if r["precision"] >= 0.9 and r["threshold"] > review),
        990,
    )
    return review, max(block, review + 2)


def install_default_detector(
    engine: Engine,
    training_csv: Path,
    *,
    progress: Progress | None = None,
    warm: bool = False,
) -> dict[str, Any]:
    """Train the default model from an AFD CSV and activate a detector version that uses it.

    ``warm`` continues the engine's entity state and event store from the training history,
    for a live stream of the same customers (the demo).
    """
    check_afd_csv_header(training_csv, [v[0] for v in TRANSACTION_VARIABLES])
    reg = engine.registry
    define_transaction_event_type(engine)
    if not reg.get_models(model_type=MODEL_TYPE) or not any(
        m["modelId"] == MODEL_ID for m in reg.get_models(model_type=MODEL_TYPE)
    ):
        reg.create_model(MODEL_ID, MODEL_TYPE, EVENT_TYPE, "fraudstream's default model")
    version = reg.add_model_version(
        MODEL_ID,
        MODEL_TYPE,
        "EXTERNAL_EVENTS",
        {
            "modelVariables": [v[0] for v in TRANSACTION_VARIABLES],
            "labelSchema": {
                "labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]},
                "unlabeledEventsTreatment": "IGNORE",
            },
        },
        external_events_detail={"dataLocation": str(training_csv.resolve())},
    )
    number = version["modelVersionNumber"]
    state = engine.state if warm and isinstance(engine.state, MemoryStateStore) else None
    done = run_training(
        reg,
        engine.events,
        MODEL_ID,
        MODEL_TYPE,
        number,
        progress=progress,
        warm_state=state,
        store_events=warm,
    )
    if done["status"] != "TRAINING_COMPLETE":
        raise FraudstreamError(f"training the default model failed: {done.get('statusReason')}")
    metrics = done["trainingResultV2"]["fraudstreamMetrics"]
    table = done["trainingResultV2"]["trainingMetricsV2"]["tfi"]["metricDataPoints"]
    review, block = choose_thresholds({**metrics, "threshold_table": table})
    score = "$" + score_variable(MODEL_ID)
    reg.put_detector(DETECTOR_ID, EVENT_TYPE, "fraudstream's default transaction detector")
    rules = []
    for rule_id, expression, outcome in (
        ("block_high_risk", f"{score} >= {block}", "block"),
        ("review_medium_risk", f"{score} >= {review}", "review"),
        ("approve_low_risk", f"{score} < {review}", "approve"),
    ):
        existing = reg.get_rules(DETECTOR_ID)
        mine = [r for r in existing if r["ruleId"] == rule_id]
        if mine:
            rule = reg.update_rule_version(
                DETECTOR_ID, rule_id, mine[-1]["ruleVersion"], expression, [outcome]
            )
        else:
            rule = reg.create_rule(rule_id, DETECTOR_ID, expression, [outcome])
        rules.append({"ruleId": rule_id, "ruleVersion": rule["ruleVersion"]})
    dv = reg.create_detector_version(
        DETECTOR_ID,
        rules,
        [{"modelId": MODEL_ID, "modelType": MODEL_TYPE, "modelVersionNumber": number}],
        "FIRST_MATCHED",
        f"default: review >= {review}, block >= {block}",
    )
    reg.update_detector_version_status(DETECTOR_ID, dv["detectorVersionId"], "ACTIVE")
    return {
        "model_version": number,
        "detector_version": dv["detectorVersionId"],
        "review_threshold": review,
        "block_threshold": block,
        "metrics": metrics,
    }
