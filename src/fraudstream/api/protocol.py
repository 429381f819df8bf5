"""AFD's JSON 1.1 wire protocol, with botocore's service model as the specification.

The model that boto3 uses to build requests is also what the server checks them against:
required members, types, lengths, ranges, patterns and enums, each problem naming its field.
Responses are projected onto the operation's output shape so callers see exactly AFD's members
(no internal fields, no nulls). Validators and projectors are compiled once per operation.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import botocore.session  # type: ignore[import-untyped]
from botocore.model import OperationModel, ServiceModel, Shape  # type: ignore[import-untyped]

from fraudstream.api.errors import ApiError, validation

SERVICE = "frauddetector"
TARGET_PREFIX = "AWSHawksNestServiceFacade."
CONTENT_TYPE = "application/x-amz-json-1.1"
#: Shapes whose AWS pattern we deliberately relax: data locations may be local paths or
#: ``file://`` URIs here instead of ``s3://`` URIs.
RELAXED_PATTERNS = frozenset({"s3BucketLocation"})
MAX_REPORTED_PROBLEMS = 10

Problems = list[tuple[str, str]]
Validator = Callable[[Any, str, Problems], None]
Projector = Callable[[Any], Any]


class _Pattern(Protocol):
    def search(self, text: str) -> object: ...


@functools.cache
def service_model() -> ServiceModel:
    """botocore's Fraud Detector model (loaded once: it takes ~100 ms)."""
    return botocore.session.get_session().get_service_model(SERVICE)


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    validate: Validator
    project: Projector


def operation_name(target: str | None) -> str:
    """``AWSHawksNestServiceFacade.GetEventPrediction`` -> ``GetEventPrediction``."""
    if not target:
        raise ApiError("UnknownOperationException", "missing X-Amz-Target header")
    if not target.startswith(TARGET_PREFIX):
        raise ApiError(
            "UnknownOperationException",
            f"X-Amz-Target must start with {TARGET_PREFIX!r}",
        )
    return target[len(TARGET_PREFIX) :]


class Operations:
    """Compiled validators and projectors for every operation of the service model."""

    def __init__(self, model: ServiceModel | None = None) -> None:
        self.model = model or service_model()
        self._validators: dict[str, Validator] = {}
        self._projectors: dict[str, Projector] = {}
        self.operations: dict[str, Operation] = {
            name: self._compile(self.model.operation_model(name))
            for name in self.model.operation_names
        }

    def __contains__(self, name: str) -> bool:
        return name in self.operations

    def __getitem__(self, name: str) -> Operation:
        return self.operations[name]

    def _compile(self, op: OperationModel) -> Operation:
        validate = self._validator(op.input_shape) if op.input_shape else _accept_any_object
        project = self._projector(op.output_shape) if op.output_shape else _empty
        return Operation(op.name, validate, project)

    # -- validation ---------------------------------------------------------------------------

    def _validator(self, shape: Shape) -> Validator:
        cached = self._validators.get(shape.name)
        if cached is not None:
            return cached
        # A forward reference first, so a recursive shape compiles to a finite closure graph.
        slot: list[Validator] = []
        self._validators[shape.name] = lambda v, p, out: slot[0](v, p, out)
        compiled = self._build_validator(shape)
        slot.append(compiled)
        self._validators[shape.name] = compiled
        return compiled

    def _build_validator(self, shape: Shape) -> Validator:
        kind = shape.type_name
        if kind == "structure":
            return self._structure_validator(shape)
        if kind == "list":
            return self._list_validator(shape)
        if kind == "map":
            return self._map_validator(shape)
        if kind == "string":
            return _string_validator(shape)
        if kind in ("integer", "long"):
            return _integer_validator(shape)
        if kind in ("float", "double"):
            return _number_validator
        if kind == "boolean":
            return _boolean_validator
        if kind == "blob":
            return _blob_validator
        if kind == "timestamp":
            return _timestamp_validator
        return _accept  # pragma: no cover - the model has no other kinds

    def _structure_validator(self, shape: Shape) -> Validator:
        members = {name: self._validator(m) for name, m in shape.members.items()}
        required = tuple(shape.required_members)

        def check(value: Any, path: str, out: Problems) -> None:
            if not isinstance(value, dict):
                out.append((path or "$", "Member must be a structure (JSON object)"))
                return
            prefix = f"{path}." if path else ""
            for name in required:
                if value.get(name) is None:
                    out.append((prefix + name, "Member must not be null"))
            for name, item in value.items():
                member = members.get(name)
                # Unknown members are ignored, as AWS does, so newer SDKs keep working.
                if member is not None and item is not None:
                    member(item, prefix + name, out)

        return check

    def _list_validator(self, shape: Shape) -> Validator:
        member = self._validator(shape.member)
        low, high = shape.metadata.get("min"), shape.metadata.get("max")

        def check(value: Any, path: str, out: Problems) -> None:
            if not isinstance(value, list):
                out.append((path, "Member must be a list"))
                return
            _check_size(len(value), low, high, path, out, "have length")
            for i, item in enumerate(value):
                if item is None:
                    out.append((f"{path}[{i}]", "Member must not be null"))
                else:
                    member(item, f"{path}[{i}]", out)
                if len(out) > MAX_REPORTED_PROBLEMS:
                    return

        return check

    def _map_validator(self, shape: Shape) -> Validator:
        key = self._validator(shape.key)
        val = self._validator(shape.value)
        low, high = shape.metadata.get("min"), shape.metadata.get("max")

        def check(value: Any, path: str, out: Problems) -> None:
            if not isinstance(value, dict):
                out.append((path, "Member must be a map (JSON object)"))
                return
            _check_size(len(value), low, high, path, out, "have number of entries")
            for k, v in value.items():
                key(k, f"{path} key {k[:64]!r}", out)
                if v is None:
                    out.append((f"{path}.{k}", "Member must not be null"))
                else:
                    val(v, f"{path}.{k}", out)
                if len(out) > MAX_REPORTED_PROBLEMS:
                    return

        return check

    # -- projection ---------------------------------------------------------------------------

    def _projector(self, shape: Shape) -> Projector:
        cached = self._projectors.get(shape.name)
        if cached is not None:
            return cached
        slot: list[Projector] = []
        self._projectors[shape.name] = lambda v: slot[0](v)
        compiled = self._build_projector(shape)
        slot.append(compiled)
        self._projectors[shape.name] = compiled
        return compiled

    def _build_projector(self, shape: Shape) -> Projector:
        if shape.type_name == "structure":
            members = {n: self._projector(m) for n, m in shape.members.items()}
            # AFD omits an unset description rather than sending "" (which its model forbids).
            no_empty = frozenset(
                n
                for n, m in shape.members.items()
                if m.type_name == "string" and m.metadata.get("min", 0) >= 1
            )

            def structure(value: Any) -> Any:
                if not isinstance(value, dict):
                    return value
                return {
                    name: members[name](item)
                    for name, item in value.items()
                    if item is not None
                    and name in members
                    and not (item == "" and name in no_empty)
                }

            return structure
        if shape.type_name == "list":
            member = self._projector(shape.member)
            return lambda value: [member(v) for v in value] if isinstance(value, list) else value
        if shape.type_name == "map":
            val = self._projector(shape.value)

            def mapping(value: Any) -> Any:
                if not isinstance(value, dict):
                    return value
                return {k: val(v) for k, v in value.items() if v is not None}

            return mapping
        return _identity


def validate(operation: Operation, body: Any) -> None:
    """Raise ValidationException listing every problem with the request body."""
    problems: Problems = []
    operation.validate(body, "", problems)
    if problems:
        raise validation(validation_message(problems), problems)


def validation_message(problems: Problems) -> str:
    """AWS's wording: ``N validation errors detected: Value at 'x' failed to satisfy ...``."""
    shown = problems[:MAX_REPORTED_PROBLEMS]
    count = len(problems)
    head = f"{count} validation error{'s' if count != 1 else ''} detected: "
    return head + "; ".join(
        f"Value at '{path}' failed to satisfy constraint: {what}" for path, what in shown
    )


def _check_size(
    size: int, low: int | None, high: int | None, path: str, out: Problems, what: str
) -> None:
    if low is not None and size < low:
        out.append((path, f"Member must {what} greater than or equal to {low}"))
    if high is not None and size > high:
        out.append((path, f"Member must {what} less than or equal to {high}"))


def _compile_pattern(pattern: str) -> _Pattern:
    try:
        return re.compile(pattern)
    except re.error:
        # AWS patterns use Java classes like \p{L}; RE2 understands them (and never backtracks).
        import re2

        compiled: _Pattern = re2.compile(pattern)
        return compiled


def _string_validator(shape: Shape) -> Validator:
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    enum = frozenset(shape.enum) if shape.enum else None
    raw = meta.get("pattern") if shape.name not in RELAXED_PATTERNS else None
    pattern = _compile_pattern(raw) if raw else None

    def check(value: Any, path: str, out: Problems) -> None:
        if not isinstance(value, str):
            out.append((path, "Member must be a string"))
            return
        _check_size(len(value), low, high, path, out, "have length")
        if enum is not None and value not in enum:
            out.append((path, f"Member must satisfy enum value set: [{', '.join(sorted(enum))}]"))
        elif pattern is not None and not pattern.search(value):
            out.append((path, f"Member must satisfy regular expression pattern: {raw}"))

    return check


def _integer_validator(shape: Shape) -> Validator:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")

    def check(value: Any, path: str, out: Problems) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            out.append((path, "Member must be an integer"))
            return
        if low is not None and value < low:
            out.append((path, f"Member must have value greater than or equal to {low}"))
        if high is not None and value > high:
            out.append((path, f"Member must have value less than or equal to {high}"))

    return check


def _number_validator(value: Any, path: str, out: Problems) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        out.append((path, "Member must be a finite number"))


def _boolean_validator(value: Any, path: str, out: Problems) -> None:
    if not isinstance(value, bool):
        out.append((path, "Member must be a boolean"))


def _blob_validator(value: Any, path: str, out: Problems) -> None:
    if not isinstance(value, str):
        out.append((path, "Member must be base64 text"))
        return
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        out.append((path, "Member must be base64 text"))


def _timestamp_validator(value: Any, path: str, out: Problems) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        out.append((path, "Member must be a timestamp"))


def _accept(value: Any, path: str, out: Problems) -> None:
    return None


def _accept_any_object(value: Any, path: str, out: Problems) -> None:
    if not isinstance(value, dict):
        out.append(("$", "the request body must be a JSON object"))


def _identity(value: Any) -> Any:
    return value


def _empty(value: Any) -> Any:
    return {}
