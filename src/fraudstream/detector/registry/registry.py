"""AFD's resources and their rules of life, kept as AFD-shaped documents.

Documents use AFD's own field names (camelCase) so the AFD-compatible API can return them as
they are, and a boto3 user sees the shapes they know. Semantics follow AFD's documentation:
an event type's variables and labels cannot be removed once added; a detector has exactly one
ACTIVE version and only DRAFT versions can be edited; rules are versioned; rules may only use
variables, model scores (``$<model>_insightscore``) and lists that exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fraudstream.detector.registry.names import arn, identifier, now_iso, variable_name
from fraudstream.detector.registry.store import Doc, DocumentStore
from fraudstream.detector.rules import MAX_RULE_LENGTH, check_rule
from fraudstream.errors import Conflict, InvalidInput, NotFound

DATA_TYPES = ("STRING", "INTEGER", "FLOAT", "BOOLEAN", "DATETIME")
DATA_SOURCES = ("EVENT", "MODEL_SCORE", "EXTERNAL_MODEL_SCORE")
MODEL_TYPES = ("ONLINE_FRAUD_INSIGHTS", "TRANSACTION_FRAUD_INSIGHTS", "ACCOUNT_TAKEOVER_INSIGHTS")
RULE_MODES = ("FIRST_MATCHED", "ALL_MATCHED")
LIST_UPDATE_MODES = ("REPLACE", "APPEND", "REMOVE")
MAX_LIST_ELEMENTS = 100_000


def score_variable(model_id: str) -> str:
    """The variable a model's score is published as, as in AFD."""
    return f"{model_id}_insightscore"


class Registry:
    """All AFD resources of one installation, over a :class:`DocumentStore`."""

    def __init__(self, store: DocumentStore, *, region: str = "local") -> None:
        self.store = store
        self.region = region

    # -- helpers ---------------------------------------------------------------------------

    def _arn(self, resource: str, name: str) -> str:
        return arn(resource, name, self.region)

    def _require(self, kind: str, key: str, what: str) -> Doc:
        doc = self.store.get(kind, key)
        if doc is None:
            raise NotFound(f"{what} not found")
        return doc

    def _put_named(self, kind: str, name: str, description: str, **extra: Any) -> Doc:
        identifier(name, "name")
        with self.store.transaction():
            old = self.store.get(kind, name)
            now = now_iso()
            doc = {
                "name": name,
                "description": description or "",
                **extra,
                "createdTime": old["createdTime"] if old else now,
                "lastUpdatedTime": now,
                "arn": self._arn(kind.replace("_", "-"), name),
            }
            self.store.put(kind, name, doc)
        return doc

    def _get_named(self, kind: str, name: str | None, what: str) -> list[Doc]:
        if name is not None:
            return [self._require(kind, name, f"{what} {name!r}")]
        return self.store.list(kind)

    def _delete_unused(self, kind: str, name: str, what: str, used_by: Iterable[str]) -> None:
        users = sorted(set(used_by))
        if users:
            raise Conflict(f"{what} {name!r} is in use by {', '.join(users)}")
        self.store.delete(kind, name)

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
        users = [d["detectorId"] for d in self.get_detectors() if d["eventTypeName"] == name]
        users += [m["modelId"] for m in self.get_models() if m["eventTypeName"] == name]
        self._delete_unused("event_type", name, "event type", users)

    # -- models and model versions --------------------------------------------------------------

    def create_model(
        self, model_id: str, model_type: str, event_type_name: str, description: str = ""
    ) -> Doc:
        identifier(model_id, "modelId")
        _model_type(model_type)
        self.event_type(event_type_name)
        key = f"{model_type}/{model_id}"
        if self.store.get("model", key) is not None:
            raise Conflict(f"model {model_id!r} already exists")
        now = now_iso()
        doc = {
            "modelId": model_id,
            "modelType": model_type,
            "eventTypeName": event_type_name,
            "description": description,
            "createdTime": now,
            "lastUpdatedTime": now,
            "arn": self._arn("model", f"{model_type}/{model_id}"),
        }
        self.store.put("model", key, doc)
        return doc

    def get_models(self, model_id: str | None = None, model_type: str | None = None) -> list[Doc]:
        models = self.store.list("model")
        if model_type is not None:
            models = [m for m in models if m["modelType"] == model_type]
        if model_id is not None:
            models = [m for m in models if m["modelId"] == model_id]
            if not models:
                raise NotFound(f"model {model_id!r} not found")
        return models

    def model(self, model_id: str, model_type: str) -> Doc:
        return self._require("model", f"{model_type}/{model_id}", f"model {model_id!r}")

    def update_model(self, model_id: str, model_type: str, description: str) -> Doc:
        """UpdateModel: AFD lets only the description change."""
        with self.store.transaction():
            doc = self.model(model_id, model_type)
            doc["description"] = description
            doc["lastUpdatedTime"] = now_iso()
            self.store.put("model", f"{model_type}/{model_id}", doc)
        return doc

    def delete_model(self, model_id: str, model_type: str) -> None:
        if self.store.list("model_version", f"{model_type}/{model_id}/"):
            raise Conflict(f"model {model_id!r} still has versions; delete them first")
        self.store.delete("model", f"{model_type}/{model_id}")

    def add_model_version(
        self,
        model_id: str,
        model_type: str,
        training_data_source: str,
        training_data_schema: dict[str, Any],
        *,
        external_events_detail: dict[str, Any] | None = None,
        ingested_events_detail: dict[str, Any] | None = None,
        major: str | None = None,
    ) -> Doc:
        """Register a new version in TRAINING_IN_PROGRESS; training fills it in later.

        Versions are ``<major>.0``; with ``major`` (UpdateModelVersion) the next minor version
        of that major version, ``1.01``, ``1.02``... as AFD numbers them.
        """
        self.model(model_id, model_type)
        with self.store.transaction():
            versions = self.store.list("model_version", f"{model_type}/{model_id}/")
            if major is None:
                next_major = max((_major(v) for v in versions), default=0) + 1
                number = f"{next_major}.0"
            else:
                minors = [_minor(v) for v in versions if str(_major(v)) == major]
                if not minors:
                    raise NotFound(f"model {model_id!r} has no major version {major}")
                number = f"{major}.{max(minors) + 1:02d}"
            now = now_iso()
            doc: Doc = {
                "modelId": model_id,
                "modelType": model_type,
                "modelVersionNumber": number,
                "status": "TRAINING_IN_PROGRESS",
                "trainingDataSource": training_data_source,
                "trainingDataSchema": training_data_schema,
                "createdTime": now,
                "lastUpdatedTime": now,
                "arn": self._arn("model-version", f"{model_type}/{model_id}/{number}"),
            }
            if external_events_detail:
                doc["externalEventsDetail"] = external_events_detail
            if ingested_events_detail:
                doc["ingestedEventsDetail"] = ingested_events_detail
            self.store.put("model_version", f"{model_type}/{model_id}/{number}", doc)
        return doc

    def complete_model_version(
        self,
        model_id: str,
        model_type: str,
        number: str,
        artifact: bytes | None,
        training_result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> Doc:
        """Record the end of training: the artifact and metrics, or the failure."""
        with self.store.transaction():
            doc = self.model_version(model_id, model_type, number)
            if artifact is not None:
                self.store.put_blob(_blob_key(model_id, model_type, number), artifact)
                doc["status"] = "TRAINING_COMPLETE"
                doc["trainingResultV2"] = training_result or {}
            else:
                doc["status"] = "ERROR"
                doc["statusReason"] = error or "training failed"
            doc["lastUpdatedTime"] = now_iso()
            self.store.put("model_version", f"{model_type}/{model_id}/{number}", doc)
        return doc

    def model_version(self, model_id: str, model_type: str, number: str) -> Doc:
        return self._require(
            "model_version",
            f"{model_type}/{model_id}/{number}",
            f"model version {model_id} {number}",
        )

    def describe_model_versions(
        self,
        model_id: str | None = None,
        model_type: str | None = None,
        number: str | None = None,
    ) -> list[Doc]:
        docs = self.store.list("model_version")
        return [
            d
            for d in docs
            if (model_id is None or d["modelId"] == model_id)
            and (model_type is None or d["modelType"] == model_type)
            and (number is None or d["modelVersionNumber"] == number)
        ]

    def update_model_version_status(
        self, model_id: str, model_type: str, number: str, status: str
    ) -> Doc:
        if status not in ("ACTIVE", "INACTIVE", "TRAINING_CANCELLED"):
            raise InvalidInput("status must be ACTIVE, INACTIVE or TRAINING_CANCELLED")
        with self.store.transaction():
            doc = self.model_version(model_id, model_type, number)
            current = doc["status"]
            allowed = {
                "ACTIVE": {"TRAINING_COMPLETE", "INACTIVE"},
                "INACTIVE": {"ACTIVE", "TRAINING_COMPLETE"},
                "TRAINING_CANCELLED": {"TRAINING_IN_PROGRESS"},
            }[status]
            if current not in allowed and current != status:
                raise Conflict(
                    f"model version {model_id} {number} is {current}; cannot set {status}"
                )
            if status == "INACTIVE":
                users = self._detector_versions_using_model(model_id, number, active_only=True)
                if users:
                    raise Conflict(f"model version is used by ACTIVE detector version {users[0]}")
            doc["status"] = status
            doc["lastUpdatedTime"] = now_iso()
            self.store.put("model_version", f"{model_type}/{model_id}/{number}", doc)
        return doc

    def delete_model_version(self, model_id: str, model_type: str, number: str) -> None:
        doc = self.model_version(model_id, model_type, number)
        if doc["status"] == "ACTIVE":
            raise Conflict("an ACTIVE model version cannot be deleted; set it INACTIVE first")
        if self._detector_versions_using_model(model_id, number, active_only=False):
            raise Conflict("model version is used by a detector version")
        with self.store.transaction():
            self.store.delete("model_version", f"{model_type}/{model_id}/{number}")
            self.store.delete_blob(_blob_key(model_id, model_type, number))

    def model_artifact(self, model_id: str, model_type: str, number: str) -> bytes:
        data = self.store.get_blob(_blob_key(model_id, model_type, number))
        if data is None:
            raise NotFound(f"model version {model_id} {number} has no trained artifact")
        return data

    def _detector_versions_using_model(
        self, model_id: str, number: str, *, active_only: bool
    ) -> list[str]:
        return [
            f"{dv['detectorId']}/{dv['detectorVersionId']}"
            for dv in self.store.list("detector_version")
            if (not active_only or dv["status"] == "ACTIVE")
            and any(
                m["modelId"] == model_id and m["modelVersionNumber"] == number
                for m in dv["modelVersions"]
            )
        ]

    # -- detectors and rules -----------------------------------------------------------------

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

    # -- detector versions ---------------------------------------------------------------------

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

    # -- lists ---------------------------------------------------------------------------------

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


def _major(version: Doc) -> int:
    return int(str(version["modelVersionNumber"]).partition(".")[0])


def _minor(version: Doc) -> int:
    return int(str(version["modelVersionNumber"]).partition(".")[2] or 0)


def _dv_key(detector_id: str, version_id: str) -> str:
    return f"{detector_id}/{int(version_id):06d}"


def _blob_key(model_id: str, model_type: str, number: str) -> str:
    return f"model/{model_type}/{model_id}/{number}"


def _model_type(model_type: str) -> str:
    if model_type not in MODEL_TYPES:
        raise InvalidInput(f"modelType must be one of {', '.join(MODEL_TYPES)}")
    return model_type


def _check_elements(elements: Sequence[str]) -> None:
    if len(elements) > MAX_LIST_ELEMENTS:
        raise InvalidInput(f"a list holds at most {MAX_LIST_ELEMENTS} elements")
    for element in elements:
        if not isinstance(element, str) or not 1 <= len(element) <= 320:
            raise InvalidInput("list elements must be strings of 1-320 characters")


def _default_variable_type(data_type: str) -> str:
    return "NUMERIC" if data_type in ("INTEGER", "FLOAT") else "CATEGORICAL"
