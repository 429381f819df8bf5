"""Detector versions and rules as analysts see them, and the changes they may make.

Everything goes through the registry's AFD operations (CreateRule, UpdateRuleVersion,
CreateDetectorVersion, UpdateDetectorVersionStatus), so the dashboard can do nothing the API
could not, and every scorer (this process, the stream processors) picks the change up through
the registry's change counter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from fraudstream.detector.registry import Registry
from fraudstream.detector.rules import check_rule
from fraudstream.errors import InvalidInput, NotFound

__all__ = [
    "DraftError",
    "RuleEdit",
    "VersionView",
    "activate",
    "active_thresholds",
    "create_draft",
    "rollback_target",
    "score_thresholds",
    "versions",
]

Doc = dict[str, Any]
#: ``$<model>_insightscore >= 900``: a score-band rule whose threshold the charts can mark.
_SCORE_RULE: Final = re.compile(r"^\s*\$\w+_insightscore\s*>=?\s*(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class VersionView:
    """A detector version with its rule documents resolved (expressions, outcomes)."""

    doc: Doc
    rules: list[Doc]

    @property
    def id(self) -> str:
        return str(self.doc["detectorVersionId"])

    @property
    def status(self) -> str:
        return str(self.doc["status"])


def versions(registry: Registry, detector_id: str) -> list[VersionView]:
    """Every version of a detector, newest first."""
    out = []
    for doc in registry.detector_versions(detector_id):
        rules = [
            registry.rule(detector_id, ref["ruleId"], ref["ruleVersion"]) for ref in doc["rules"]
        ]
        out.append(VersionView(doc, rules))
    return sorted(out, key=lambda v: -int(v.id))


def score_thresholds(rules: Sequence[Doc]) -> list[tuple[float, str]]:
    """``(score, outcome)`` of each simple ``$..._insightscore >= N`` rule, for charts."""
    out = []
    for rule in rules:
        match = _SCORE_RULE.match(rule["expression"])
        if match and rule["outcomes"]:
            out.append((float(match.group(1)), str(rule["outcomes"][0])))
    return out


def active_thresholds(registry: Registry, detector_id: str) -> list[tuple[float, str]]:
    """:func:`score_thresholds` of the ACTIVE version (none when there is none)."""
    try:
        doc = registry.active_version(detector_id)
        if doc is None:
            return []
        return score_thresholds(
            [registry.rule(detector_id, r["ruleId"], r["ruleVersion"]) for r in doc["rules"]]
        )
    except NotFound:
        return []


@dataclass
class RuleEdit:
    """One rule of a draft as the analyst left it; ``base_version`` None: a new rule."""

    rule_id: str
    expression: str
    outcomes: list[str]
    base_version: str | None = None
    error: str = ""


class DraftError(InvalidInput):
    """Some rules are invalid: each :class:`RuleEdit` carries its own message."""

    def __init__(self, message: str, edits: list[RuleEdit]) -> None:
        super().__init__(message, [(e.rule_id, e.error) for e in edits if e.error])
        self.edits = edits


def _validate(registry: Registry, detector_id: str, edits: list[RuleEdit]) -> None:
    known_outcomes = {o["name"] for o in registry.get_outcomes()}
    variables = registry.rule_variables(detector_id)
    lists = {d["name"] for d in registry.get_lists()}
    seen: set[str] = set()
    for edit in edits:
        problems = []
        if not re.fullmatch(r"[0-9a-z_]{1,64}", edit.rule_id):
            problems.append("rule id: 1-64 lower-case letters, digits or _")
        elif edit.rule_id in seen:
            problems.append("rule id used twice")
        seen.add(edit.rule_id)
        if not edit.outcomes:
            problems.append("choose an outcome")
        problems += [f"unknown outcome {o!r}" for o in edit.outcomes if o not in known_outcomes]
        try:
            check_rule(edit.expression, variables, lists)
        except InvalidInput as exc:
            problems.append(str(exc))
        edit.error = "; ".join(problems)
    if not edits:
        raise DraftError("a detector version needs at least one rule", [])
    if any(e.error for e in edits):
        raise DraftError("invalid rules", edits)


def create_draft(
    registry: Registry,
    detector_id: str,
    edits: list[RuleEdit],
    *,
    base: Doc,
    rule_execution_mode: str,
    description: str,
) -> Doc:
    """A DRAFT version: changed rules get a new rule version, unchanged ones are reused, new
    ones are created; the models are those of ``base``. Raises :class:`DraftError` before
    writing anything when a rule is invalid."""
    _validate(registry, detector_id, edits)
    refs = []
    with registry.store.transaction():
        for edit in edits:
            existing = registry.get_rules(detector_id)
            mine = [r for r in existing if r["ruleId"] == edit.rule_id]
            if edit.base_version is not None:
                current = registry.rule(detector_id, edit.rule_id, edit.base_version)
                if (current["expression"], current["outcomes"]) == (
                    edit.expression,
                    edit.outcomes,
                ):
                    refs.append({"ruleId": edit.rule_id, "ruleVersion": edit.base_version})
                    continue
            if mine:
                doc = registry.update_rule_version(
                    detector_id,
                    edit.rule_id,
                    mine[-1]["ruleVersion"],
                    edit.expression,
                    edit.outcomes,
                )
            else:
                doc = registry.create_rule(
                    edit.rule_id, detector_id, edit.expression, edit.outcomes
                )
            refs.append({"ruleId": edit.rule_id, "ruleVersion": doc["ruleVersion"]})
        models = [
            {k: m[k] for k in ("modelId", "modelType", "modelVersionNumber")}
            for m in base["modelVersions"]
        ]
        return registry.create_detector_version(
            detector_id, refs, models, rule_execution_mode, description
        )


def activate(registry: Registry, detector_id: str, version_id: str) -> Doc:
    """Make a version ACTIVE (the previous ACTIVE one becomes INACTIVE atomically)."""
    return registry.update_detector_version_status(detector_id, version_id, "ACTIVE")


def rollback_target(registry: Registry, detector_id: str) -> Doc | None:
    """The version to roll back to: the most recently deactivated (INACTIVE) one."""
    inactive = [d for d in registry.detector_versions(detector_id) if d["status"] == "INACTIVE"]
    return max(
        inactive,
        key=lambda d: (d["lastUpdatedTime"], int(d["detectorVersionId"])),
        default=None,
    )
