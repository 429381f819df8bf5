"""Detectors and their rules.

Rules are versioned and a version's logic never changes, so a detector version keeps scoring
with the rules it was built from. A rule may only use the event type's variables, its models'
scores (``$<model>_insightscore``), outcomes and lists that exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from fraudstream.detector.registry.models import ModelResources, score_variable
from fraudstream.detector.registry.names import identifier, now_iso
from fraudstream.detector.registry.store import Doc
from fraudstream.detector.rules import MAX_RULE_LENGTH, check_rule
from fraudstream.errors import Conflict, InvalidInput, NotFound


class DetectorResources(ModelResources):
    """Detectors of an event type and their rules (built on event types, models, outcomes)."""

    def put_detector(self, detector_id: str, event_type_name: str, description: str = "") -> Doc:
        identifier(detector_id, "detectorId")
        self.event_type(event_type_name)
        with self.store.transaction():
            old = self.store.get("detector", detector_id)
            if old is not None and old["eventTypeName"] != event_type_name:
                raise Conflict(f"detector {detector_id!r} already uses another event type")
            now = now_iso()
            doc = {
                "detectorId": detector_id,
                "eventTypeName": event_type_name,
                "description": description,
                "createdTime": old["createdTime"] if old else now,
                "lastUpdatedTime": now,
                "arn": self._arn("detector", detector_id),
            }
            self.store.put("detector", detector_id, doc)
        return doc

    def detector(self, detector_id: str) -> Doc:
        return self._require("detector", detector_id, f"detector {detector_id!r}")

    def get_detectors(self, detector_id: str | None = None) -> list[Doc]:
        if detector_id is not None:
            return [self.detector(detector_id)]
        return self.store.list("detector")

    def delete_detector(self, detector_id: str) -> None:
        self.detector(detector_id)
        if self.store.list("detector_version", f"{detector_id}/"):
            raise Conflict(f"detector {detector_id!r} still has versions; delete them first")
        if self.store.list("rule", f"{detector_id}/"):
            raise Conflict(f"detector {detector_id!r} still has rules; delete them first")
        self.store.delete("detector", detector_id)

    # -- rules ---------------------------------------------------------------------------------

    def rule_variables(self, detector_id: str) -> set[str]:
        """Variables a rule of this detector may use: the event's and its models' scores."""
        event_type = self.event_type(self.detector(detector_id)["eventTypeName"])
        names = set(event_type["eventVariables"])
        names |= {
            score_variable(m["modelId"])
            for m in self.store.list("model")
            if m["eventTypeName"] == event_type["name"]
        }
        return names

    def _check_rule(
        self, detector_id: str, expression: str, language: str, outcomes: Sequence[str]
    ) -> None:
        if language != "DETECTORPL":
            raise InvalidInput("language must be DETECTORPL")
        if len(expression) > MAX_RULE_LENGTH:
            raise InvalidInput(f"expression is longer than {MAX_RULE_LENGTH} characters")
        if not outcomes:
            raise InvalidInput("outcomes must name at least one outcome")
        for outcome in outcomes:
            self._require("outcome", outcome, f"outcome {outcome!r}")
        lists = {d["name"] for d in self.store.list("list")}
        check_rule(expression, self.rule_variables(detector_id), lists)

    def create_rule(
        self,
        rule_id: str,
        detector_id: str,
        expression: str,
        outcomes: Sequence[str],
        language: str = "DETECTORPL",
        description: str = "",
    ) -> Doc:
        identifier(rule_id, "ruleId")
        self.detector(detector_id)
        if self.store.list("rule", f"{detector_id}/{rule_id}/"):
            raise Conflict(f"rule {rule_id!r} already exists; use UpdateRuleVersion")
        self._check_rule(detector_id, expression, language, outcomes)
        return self._put_rule(
            rule_id, detector_id, "1", expression, outcomes, language, description
        )

    def _put_rule(
        self,
        rule_id: str,
        detector_id: str,
        version: str,
        expression: str,
        outcomes: Sequence[str],
        language: str,
        description: str,
    ) -> Doc:
        now = now_iso()
        doc = {
            "ruleId": rule_id,
            "detectorId": detector_id,
            "ruleVersion": version,
            "expression": expression,
            "language": language,
            "outcomes": list(outcomes),
            "description": description,
            "createdTime": now,
            "lastUpdatedTime": now,
            "arn": self._arn("rule", f"{detector_id}/{rule_id}/{version}"),
        }
        self.store.put("rule", f"{detector_id}/{rule_id}/{int(version):06d}", doc)
        return doc

    def update_rule_version(
        self,
        detector_id: str,
        rule_id: str,
        rule_version: str,
        expression: str,
        outcomes: Sequence[str],
        language: str = "DETECTORPL",
        description: str = "",
    ) -> Doc:
        """A new version of a rule; the old one stays for detector versions that use it."""
        self.rule(detector_id, rule_id, rule_version)
        self._check_rule(detector_id, expression, language, outcomes)
        with self.store.transaction():
            latest = max(int(r["ruleVersion"]) for r in self.get_rules(detector_id, rule_id))
            return self._put_rule(
                rule_id, detector_id, str(latest + 1), expression, outcomes, language, description
            )

    def update_rule_metadata(
        self, detector_id: str, rule_id: str, rule_version: str, description: str
    ) -> Doc:
        """UpdateRuleMetadata: the description of one rule version (its logic never changes)."""
        with self.store.transaction():
            doc = self.rule(detector_id, rule_id, rule_version)
            doc["description"] = description
            doc["lastUpdatedTime"] = now_iso()
            self.store.put("rule", f"{detector_id}/{rule_id}/{int(rule_version):06d}", doc)
        return doc

    def rule(self, detector_id: str, rule_id: str, version: str) -> Doc:
        if not version.isdigit():
            raise InvalidInput(f"ruleVersion must be a whole number, got {version!r}")
        return self._require(
            "rule", f"{detector_id}/{rule_id}/{int(version):06d}", f"rule {rule_id} v{version}"
        )

    def get_rules(
        self, detector_id: str, rule_id: str | None = None, rule_version: str | None = None
    ) -> list[Doc]:
        self.detector(detector_id)
        if rule_id is not None and rule_version is not None:
            return [self.rule(detector_id, rule_id, rule_version)]
        prefix = f"{detector_id}/" + (f"{rule_id}/" if rule_id else "")
        rules = self.store.list("rule", prefix)
        if rule_id is not None and not rules:
            raise NotFound(f"rule {rule_id!r} not found")
        return rules

    def delete_rule(self, detector_id: str, rule_id: str, rule_version: str) -> None:
        self.rule(detector_id, rule_id, rule_version)
        for dv in self.store.list("detector_version", f"{detector_id}/"):
            if dv["status"] != "INACTIVE" and any(
                r["ruleId"] == rule_id and r["ruleVersion"] == rule_version for r in dv["rules"]
            ):
                raise Conflict(f"rule is used by {dv['status']} version {dv['detectorVersionId']}")
        self.store.delete("rule", f"{detector_id}/{rule_id}/{int(rule_version):06d}")
