"""Detectors, their rules and their versions (only DRAFT versions change; one is ACTIVE)."""

from __future__ import annotations

from fraudstream.api.errors import validation
from fraudstream.api.operations.common import Body, Handler, paginate, version_key
from fraudstream.api.service import Service


def put_detector(svc: Service, body: Body) -> Body:
    svc.registry.put_detector(
        body["detectorId"], body["eventTypeName"], body.get("description", "")
    )
    return {}


def describe_detector(svc: Service, body: Body) -> Body:
    detector = svc.registry.detector(body["detectorId"])
    summaries = [
        {
            "detectorVersionId": v["detectorVersionId"],
            "status": v["status"],
            "description": v.get("description"),
            "lastUpdatedTime": v["lastUpdatedTime"],
        }
        for v in svc.registry.detector_versions(body["detectorId"])
    ]
    page = paginate(
        summaries,
        body,
        "detectorVersionSummaries",
        key=lambda s: version_key(s["detectorVersionId"]),
        page_size=2500,
    )
    return {"detectorId": detector["detectorId"], "arn": detector["arn"], **page}


def get_detectors(svc: Service, body: Body) -> Body:
    items = svc.registry.get_detectors(body.get("detectorId"))
    return paginate(items, body, "detectors", key=lambda d: str(d["detectorId"]), page_size=10)


def delete_detector(svc: Service, body: Body) -> Body:
    svc.registry.delete_detector(body["detectorId"])
    return {}


# -- rules --------------------------------------------------------------------------------------


def _rule_ref(doc: Body) -> Body:
    return {k: doc[k] for k in ("detectorId", "ruleId", "ruleVersion")}


def create_rule(svc: Service, body: Body) -> Body:
    doc = svc.registry.create_rule(
        body["ruleId"],
        body["detectorId"],
        body["expression"],
        body["outcomes"],
        body["language"],
        body.get("description", ""),
    )
    return {"rule": _rule_ref(doc)}


def update_rule_version(svc: Service, body: Body) -> Body:
    rule = body["rule"]
    doc = svc.registry.update_rule_version(
        rule["detectorId"],
        rule["ruleId"],
        rule["ruleVersion"],
        body["expression"],
        body["outcomes"],
        body["language"],
        body.get("description", ""),
    )
    return {"rule": _rule_ref(doc)}


def get_rules(svc: Service, body: Body) -> Body:
    rule_id, version = body.get("ruleId"), body.get("ruleVersion")
    items = svc.registry.get_rules(body["detectorId"], rule_id, version)
    if version is not None and rule_id is None:
        items = [r for r in items if r["ruleVersion"] == version]
    return paginate(
        items,
        body,
        "ruleDetails",
        key=lambda r: f"{r['ruleId']}/{version_key(r['ruleVersion'])}",
        page_size=100,
    )


def update_rule_metadata(svc: Service, body: Body) -> Body:
    rule = body["rule"]
    svc.registry.update_rule_metadata(
        rule["detectorId"], rule["ruleId"], rule["ruleVersion"], body["description"]
    )
    return {}


def delete_rule(svc: Service, body: Body) -> Body:
    rule = body["rule"]
    svc.registry.delete_rule(rule["detectorId"], rule["ruleId"], rule["ruleVersion"])
    return {}


# -- detector versions --------------------------------------------------------------------------


def _no_external_models(body: Body) -> None:
    if body.get("externalModelEndpoints"):
        raise validation(
            "externalModelEndpoints (Amazon SageMaker) are not supported by fraudstream",
            [("externalModelEndpoints", "unsupported")],
        )


def create_detector_version(svc: Service, body: Body) -> Body:
    _no_external_models(body)
    doc = svc.registry.create_detector_version(
        body["detectorId"],
        body["rules"],
        body.get("modelVersions", []),
        body.get("ruleExecutionMode", "FIRST_MATCHED"),
        body.get("description", ""),
    )
    return {k: doc[k] for k in ("detectorId", "detectorVersionId", "status")}


def get_detector_version(svc: Service, body: Body) -> Body:
    return svc.registry.detector_version(body["detectorId"], body["detectorVersionId"])


def update_detector_version(svc: Service, body: Body) -> Body:
    _no_external_models(body)
    svc.registry.update_detector_version(
        body["detectorId"],
        body["detectorVersionId"],
        body["rules"],
        body.get("modelVersions", []),
        body.get("ruleExecutionMode"),
        body.get("description"),
    )
    return {}


def update_detector_version_metadata(svc: Service, body: Body) -> Body:
    svc.registry.update_detector_version_metadata(
        body["detectorId"], body["detectorVersionId"], body["description"]
    )
    return {}


def update_detector_version_status(svc: Service, body: Body) -> Body:
    svc.set_version_status(body["detectorId"], body["detectorVersionId"], body["status"])
    return {}


def delete_detector_version(svc: Service, body: Body) -> Body:
    svc.registry.delete_detector_version(body["detectorId"], body["detectorVersionId"])
    return {}


HANDLERS: dict[str, Handler] = {
    "PutDetector": put_detector,
    "DescribeDetector": describe_detector,
    "GetDetectors": get_detectors,
    "DeleteDetector": delete_detector,
    "CreateRule": create_rule,
    "UpdateRuleVersion": update_rule_version,
    "UpdateRuleMetadata": update_rule_metadata,
    "GetRules": get_rules,
    "DeleteRule": delete_rule,
    "CreateDetectorVersion": create_detector_version,
    "GetDetectorVersion": get_detector_version,
    "UpdateDetectorVersion": update_detector_version,
    "UpdateDetectorVersionMetadata": update_detector_version_metadata,
    "UpdateDetectorVersionStatus": update_detector_version_status,
    "DeleteDetectorVersion": delete_detector_version,
}
