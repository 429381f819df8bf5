"""Models, their versions and trained artifacts.

A version is registered before training and completed after it, because AFD's training is
asynchronous; the artifact is a blob next to the version's document. Whether a version is in
use is read from the detector versions in the store, which are defined in a later layer.
"""

from __future__ import annotations

from typing import Any

from fraudstream.detector.registry.metadata import MetadataResources
from fraudstream.detector.registry.names import identifier, now_iso
from fraudstream.detector.registry.store import Doc
from fraudstream.errors import Conflict, InvalidInput, NotFound

MODEL_TYPES = ("ONLINE_FRAUD_INSIGHTS", "TRANSACTION_FRAUD_INSIGHTS", "ACCOUNT_TAKEOVER_INSIGHTS")


def score_variable(model_id: str) -> str:
    """The variable a model's score is published as, as in AFD."""
    return f"{model_id}_insightscore"


class ModelResources(MetadataResources):
    """Models of an event type, and their versions (built on event types)."""

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

    # -- model versions ------------------------------------------------------------------------

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
                users = self._detector_versions_using_model(
                    model_id, model_type, number, active_only=True
                )
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
        if self._detector_versions_using_model(model_id, model_type, number, active_only=False):
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
        self, model_id: str, model_type: str, number: str, *, active_only: bool
    ) -> list[str]:
        # A model is its id AND type: AFD allows the same id for two model types.
        return [
            f"{dv['detectorId']}/{dv['detectorVersionId']}"
            for dv in self.store.list("detector_version")
            if (not active_only or dv["status"] == "ACTIVE")
            and any(
                m["modelId"] == model_id
                and m["modelType"] == model_type
                and m["modelVersionNumber"] == number
                for m in dv["modelVersions"]
            )
        ]


def _major(version: Doc) -> int:
    return int(str(version["modelVersionNumber"]).partition(".")[0])


def _minor(version: Doc) -> int:
    return int(str(version["modelVersionNumber"]).partition(".")[2] or 0)


def _blob_key(model_id: str, model_type: str, number: str) -> str:
    return f"model/{model_type}/{model_id}/{number}"


def _model_type(model_type: str) -> str:
    if model_type not in MODEL_TYPES:
        raise InvalidInput(f"modelType must be one of {', '.join(MODEL_TYPES)}")
    return model_type
