"""AFD's resource semantics: what can be removed, edited, activated, and by whom."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.detector.registry import Registry, SQLiteDocumentStore
from fraudstream.errors import Conflict, InvalidInput, NotFound


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    r = Registry(SQLiteDocumentStore(tmp_path / "registry.db"))
    r.put_entity_type("customer")
    r.put_label("fraud")
    r.put_label("legit")
    for outcome in ("approve", "review", "block"):
        r.put_outcome(outcome)
    r.create_variable("amount", "FLOAT", "EVENT", "0.0", variable_type="PRICE")
    r.create_variable("ip_address", "STRING", "EVENT", "0.0.0.0", variable_type="IP_ADDRESS")
    r.put_event_type("payment", ["amount", "ip_address"], ["customer"], ["fraud", "legit"])
    r.put_detector("det", "payment")
    return r


def _version(reg: Registry, expression: str = "$amount > 100") -> str:
    existing = reg.get_rules("det")
    if existing:
        last = existing[-1]
        rule = reg.update_rule_version(
            "det", last["ruleId"], last["ruleVersion"], expression, ["block"]
        )
    else:
        rule = reg.create_rule("big", "det", expression, ["block"])
    dv = reg.create_detector_version("det", [{"ruleId": "big", "ruleVersion": rule["ruleVersion"]}])
    return str(dv["detectorVersionId"])


def test_event_type_variables_and_labels_cannot_be_removed(reg: Registry) -> None:
    with pytest.raises(InvalidInput, match="cannot be removed"):
        reg.put_event_type("payment", ["amount"], ["customer"], ["fraud", "legit"])
    with pytest.raises(InvalidInput, match="cannot be removed"):
        reg.put_event_type("payment", ["amount", "ip_address"], ["customer"], ["fraud"])
    reg.create_variable("email_address", "STRING", "EVENT", "x")
    reg.put_event_type(
        "payment", ["amount", "ip_address", "email_address"], ["customer"], ["fraud", "legit"]
    )
    assert reg.event_type("payment")["eventVariables"][-1] == "email_address"


def test_rules_must_use_known_variables_outcomes_and_lists(reg: Registry) -> None:
    with pytest.raises(InvalidInput, match="nope"):
        reg.create_rule("r1", "det", "$nope > 1", ["block"])
    with pytest.raises(NotFound, match="outcome"):
        reg.create_rule("r1", "det", "$amount > 1", ["explode"])
    with pytest.raises(InvalidInput, match="blocked_ips"):
        reg.create_rule("r1", "det", "$ip_address in @blocked_ips", ["block"])
    reg.create_list("blocked_ips", ["10.0.0.1"])
    assert (
        reg.create_rule("r1", "det", "$ip_address in @blocked_ips", ["block"])["ruleVersion"] == "1"
    )


def test_rule_versions_keep_the_old_one(reg: Registry) -> None:
    reg.create_rule("big", "det", "$amount > 100", ["block"])
    v2 = reg.update_rule_version("det", "big", "1", "$amount > 200", ["review"])
    assert v2["ruleVersion"] == "2"
    assert reg.rule("det", "big", "1")["expression"] == "$amount > 100"
    assert [r["ruleVersion"] for r in reg.get_rules("det", "big")] == ["1", "2"]


def test_exactly_one_active_version_and_atomic_switch(reg: Registry) -> None:
    first, second = _version(reg), _version(reg, "$amount > 500")
    assert reg.active_version("det") is None
    reg.update_detector_version_status("det", first, "ACTIVE")
    generation = reg.store.generation()
    reg.update_detector_version_status("det", second, "ACTIVE")
    statuses = {v["detectorVersionId"]: v["status"] for v in reg.detector_versions("det")}
    assert statuses == {first: "INACTIVE", second: "ACTIVE"}
    # The switch is one transaction: the change counter moved exactly once.
    assert reg.store.generation() == generation + 1
    # Roll back: INACTIVE -> ACTIVE is allowed.
    reg.update_detector_version_status("det", first, "ACTIVE")
    assert reg.active_version("det")["detectorVersionId"] == first  # type: ignore[index]


def test_only_draft_versions_are_editable_and_active_is_not_deletable(reg: Registry) -> None:
    version = _version(reg)
    rules = reg.detector_version("det", version)["rules"]
    reg.update_detector_version("det", version, rules, rule_execution_mode="ALL_MATCHED")
    reg.update_detector_version_status("det", version, "ACTIVE")
    with pytest.raises(Conflict, match="only DRAFT"):
        reg.update_detector_version("det", version, rules)
    with pytest.raises(Conflict, match="cannot be deleted"):
        reg.delete_detector_version("det", version)
    with pytest.raises(InvalidInput, match="ruleExecutionMode"):
        reg.create_detector_version("det", rules, rule_execution_mode="RANDOM")


def test_in_use_resources_cannot_be_deleted(reg: Registry) -> None:
    with pytest.raises(Conflict, match="in use"):
        reg.delete_variable("amount")
    reg.create_rule("big", "det", "$amount > 1", ["block"])
    with pytest.raises(Conflict, match="in use"):
        reg.delete_outcome("block")
    with pytest.raises(Conflict, match="rules"):
        reg.delete_detector("det")


def test_list_update_modes(reg: Registry) -> None:
    reg.create_list("ips", ["a", "b"])
    assert reg.update_list("ips", ["c", "a"], "APPEND")["elements"] == ["a", "b", "c"]
    assert reg.update_list("ips", ["a"], "REMOVE")["elements"] == ["b", "c"]
    assert reg.update_list("ips", ["z"], "REPLACE")["elements"] == ["z"]
    with pytest.raises(InvalidInput, match="updateMode"):
        reg.update_list("ips", ["z"], "MERGE")


def test_identifiers_are_validated(reg: Registry) -> None:
    with pytest.raises(InvalidInput, match="detectorId"):
        reg.put_detector("Bad Name!", "payment")
    with pytest.raises(NotFound):
        reg.detector_version("det", "99")


def test_registry_survives_reopen(tmp_path: Path, reg: Registry) -> None:
    version = _version(reg)
    reg.update_detector_version_status("det", version, "ACTIVE")
    reg.store.close()
    again = Registry(SQLiteDocumentStore(tmp_path / "registry.db"))
    assert again.active_version("det")["detectorVersionId"] == version  # type: ignore[index]


def test_a_model_id_shared_by_two_model_types_is_two_models(reg: Registry) -> None:
    schema = {"modelVariables": ["amount"], "labelSchema": {"labelMapper": {}}}
    for model_type in ("ONLINE_FRAUD_INSIGHTS", "TRANSACTION_FRAUD_INSIGHTS"):
        reg.create_model("m", model_type, "payment")
        number = reg.add_model_version("m", model_type, "EXTERNAL_EVENTS", schema)[
            "modelVersionNumber"
        ]
        reg.complete_model_version("m", model_type, number, b"artifact")
    rule = reg.create_rule("big", "det", "$amount > 100", ["block"])
    dv = reg.create_detector_version(
        "det",
        [{"ruleId": "big", "ruleVersion": rule["ruleVersion"]}],
        [{"modelId": "m", "modelType": "ONLINE_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"}],
    )
    reg.update_detector_version_status("det", dv["detectorVersionId"], "ACTIVE")

    # The detector version uses the ONLINE model: the TRANSACTION one is free to go.
    reg.delete_model_version("m", "TRANSACTION_FRAUD_INSIGHTS", "1.0")
    with pytest.raises(Conflict):
        reg.delete_model_version("m", "ONLINE_FRAUD_INSIGHTS", "1.0")
