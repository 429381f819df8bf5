"""Detector versions: what a detector scores with, and which version is live.

A detector has at most one ACTIVE version and only DRAFT versions can be edited, as in AFD.
Activation checks the version's parts again and swaps the ACTIVE version in one transaction,
so scorers in other processes never see two active versions or none.
"""

from __future__ import annotations

from collections.abc import Sequence

from fraudstream.detector.registry.detectors import DetectorResources
from fraudstream.detector.registry.names import now_iso
from fraudstream.detector.registry.store import Doc
from fraudstream.errors import Conflict, InvalidInput

RULE_MODES = ("FIRST_MATCHED", "ALL_MATCHED")


class DetectorVersionResources(DetectorResources):
    """Versions of a detector: rule and model version references plus a status."""

    def _check_version_parts(
        self,
        detector_id: str,
        rules: Sequence[dict[str, str]],
        model_versions: Sequence[dict[str, str]],
        mode: str,
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        if mode not in RULE_MODES:
            raise InvalidInput(f"ruleExecutionMode must be one of {', '.join(RULE_MODES)}")
        if not rules:
            raise InvalidInput("a detector version needs at least one rule")
        clean_rules = []
        for ref in rules:
            rule = self.rule(ref.get("detectorId", detector_id), ref["ruleId"], ref["ruleVersion"])
            if rule["detectorId"] != detector_id:
                raise InvalidInput(f"rule {ref['ruleId']} belongs to another detector")
            clean_rules.append(
                {
                    "detectorId": detector_id,
                    "ruleId": ref["ruleId"],
                    "ruleVersion": ref["ruleVersion"],
                }
            )
        event_type = self.detector(detector_id)["eventTypeName"]
        clean_models = []
        for ref in model_versions:
            model = self.model(ref["modelId"], ref["modelType"])
            if model["eventTypeName"] != event_type:
                raise InvalidInput(f"model {ref['modelId']} is for another event type")
            mv = self.model_version(ref["modelId"], ref["modelType"], ref["modelVersionNumber"])
            if mv["status"] not in ("TRAINING_COMPLETE", "ACTIVE"):
                raise InvalidInput(
                    f"model version {ref['modelId']} {ref['modelVersionNumber']} is {mv['status']}"
                )
            clean_models.append(
                {
                    "modelId": ref["modelId"],
                    "modelType": ref["modelType"],
                    "modelVersionNumber": ref["modelVersionNumber"],
                    "arn": mv["arn"],
                }
            )
        return clean_rules, clean_models

    def create_detector_version(
        self,
        detector_id: str,
        rules: Sequence[dict[str, str]],
        model_versions: Sequence[dict[str, str]] = (),
        rule_execution_mode: str = "FIRST_MATCHED",
        description: str = "",
    ) -> Doc:
        self.detector(detector_id)
        clean_rules, clean_models = self._check_version_parts(
            detector_id, rules, model_versions, rule_execution_mode
        )
        with self.store.transaction():
            existing = self.store.list("detector_version", f"{detector_id}/")
            number = max((int(v["detectorVersionId"]) for v in existing), default=0) + 1
            now = now_iso()
            doc = {
                "detectorId": detector_id,
                "detectorVersionId": str(number),
                "description": description,
                "externalModelEndpoints": [],
                "modelVersions": clean_models,
                "rules": clean_rules,
                "status": "DRAFT",
                "ruleExecutionMode": rule_execution_mode,
                "createdTime": now,
                "lastUpdatedTime": now,
                "arn": self._arn("detector-version", f"{detector_id}/{number}"),
            }
            self.store.put("detector_version", _dv_key(detector_id, str(number)), doc)
        return doc

    def detector_version(self, detector_id: str, version_id: str) -> Doc:
        if not version_id.isdigit():
            raise InvalidInput(f"detectorVersionId must be a whole number, got {version_id!r}")
        return self._require(
            "detector_version",
            _dv_key(detector_id, version_id),
            f"detector version {detector_id} {version_id}",
        )

    def detector_versions(self, detector_id: str) -> list[Doc]:
        return self.store.list("detector_version", f"{detector_id}/")

    def update_detector_version(
        self,
        detector_id: str,
        version_id: str,
        rules: Sequence[dict[str, str]],
        model_versions: Sequence[dict[str, str]] = (),
        rule_execution_mode: str | None = None,
        description: str | None = None,
    ) -> Doc:
        with self.store.transaction():
            doc = self.detector_version(detector_id, version_id)
            if doc["status"] != "DRAFT":
                raise Conflict(
                    f"only DRAFT versions can be edited; version {version_id} is {doc['status']}"
                )
            mode = rule_execution_mode or doc["ruleExecutionMode"]
            doc["rules"], doc["modelVersions"] = self._check_version_parts(
                detector_id, rules, model_versions, mode
            )
            doc["ruleExecutionMode"] = mode
            if description is not None:
                doc["description"] = description
            doc["lastUpdatedTime"] = now_iso()
            self.store.put("detector_version", _dv_key(detector_id, version_id), doc)
        return doc

    def update_detector_version_metadata(
        self, detector_id: str, version_id: str, description: str
    ) -> Doc:
        """UpdateDetectorVersionMetadata: the description, whatever the version's status."""
        with self.store.transaction():
            doc = self.detector_version(detector_id, version_id)
            doc["description"] = description
            doc["lastUpdatedTime"] = now_iso()
            self.store.put("detector_version", _dv_key(detector_id, version_id), doc)
        return doc

    def update_detector_version_status(self, detector_id: str, version_id: str, status: str) -> Doc:
        """DRAFT->ACTIVE, ACTIVE->INACTIVE, INACTIVE->ACTIVE; activation demotes the old ACTIVE
        version in the same transaction, so scorers never see two or none mid-switch."""
        if status not in ("ACTIVE", "INACTIVE"):
            raise InvalidInput("status must be ACTIVE or INACTIVE")
        with self.store.transaction():
            doc = self.detector_version(detector_id, version_id)
            if doc["status"] == status:
                return doc
            if status == "INACTIVE" and doc["status"] != "ACTIVE":
                raise Conflict("only an ACTIVE version can be made INACTIVE")
            now = now_iso()
            if status == "ACTIVE":
                self._check_version_parts(
                    detector_id, doc["rules"], doc["modelVersions"], doc["ruleExecutionMode"]
                )
                for other in self.detector_versions(detector_id):
                    if other["status"] == "ACTIVE":
                        other["status"] = "INACTIVE"
                        other["lastUpdatedTime"] = now
                        self.store.put(
                            "detector_version",
                            _dv_key(detector_id, other["detectorVersionId"]),
                            other,
                        )
                for ref in doc["modelVersions"]:
                    mv = self.model_version(
                        ref["modelId"], ref["modelType"], ref["modelVersionNumber"]
                    )
                    if mv["status"] != "ACTIVE":
                        mv["status"] = "ACTIVE"
                        self.store.put(
                            "model_version",
                            f"{ref['modelType']}/{ref['modelId']}/{ref['modelVersionNumber']}",
                            mv,
                        )
            doc["status"] = status
            doc["lastUpdatedTime"] = now
            self.store.put("detector_version", _dv_key(detector_id, version_id), doc)
        return doc

    def active_version(self, detector_id: str) -> Doc | None:
        for doc in self.detector_versions(detector_id):
            if doc["status"] == "ACTIVE":
                return doc
        return None

    def delete_detector_version(self, detector_id: str, version_id: str) -> None:
        doc = self.detector_version(detector_id, version_id)
        if doc["status"] == "ACTIVE":
            raise Conflict("the ACTIVE detector version cannot be deleted")
        self.store.delete("detector_version", _dv_key(detector_id, version_id))


def _dv_key(detector_id: str, version_id: str) -> str:
    return f"{detector_id}/{int(version_id):06d}"
