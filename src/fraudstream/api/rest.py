"""A plain JSON REST API beside the AFD protocol, for callers that are not AWS SDKs.

Same engine, same service functions as the AFD operations (:mod:`fraudstream.api.service`),
documented by OpenAPI at ``/openapi.json`` (``/docs`` renders it). Authentication is an API
key in ``Authorization: Bearer <key>`` or ``X-API-Key``; only ``/v1/health`` is open.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from fraudstream.api.auth import ApiKeyVerifier
from fraudstream.api.service import Service
from fraudstream.detector import Prediction
from fraudstream.detector.defaults import DETECTOR_ID
from fraudstream.detector.registry.store import Doc
from fraudstream.errors import Conflict, FraudstreamError, InvalidInput, NotFound
from fraudstream.events import Event, Transaction, format_time, parse_transaction

log = logging.getLogger("fraudstream.api")

MAX_BATCH = 1000
IDENTIFIER = r"^[0-9a-z_-]{1,64}$"
EVENT_ID = r"^[A-Za-z0-9_.:@+\-]{1,128}$"
VERSION = r"^[1-9][0-9]{0,4}$"
LIST_NAME = r"^[0-9a-z_]{1,64}$"
JSON = "application/json"

Detector = Annotated[str, Query(pattern=IDENTIFIER, description="Detector to score with.")]
VersionQuery = Annotated[
    str | None, Query(pattern=VERSION, description="Detector version; default: ACTIVE.")
]
EventType = Annotated[str, Path(pattern=IDENTIFIER)]
EventId = Annotated[str, Path(pattern=EVENT_ID)]
DetectorId = Annotated[str, Path(pattern=IDENTIFIER)]
ListName = Annotated[str, Path(pattern=LIST_NAME)]
# Module level: route signatures are resolved from module globals (postponed annotations).
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")
bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")

# -- models ---------------------------------------------------------------------------------------


class Problem(BaseModel):
    field: str = Field(description="Where: a field name or path such as transactions[3].phone.")
    problem: str


class ErrorDetail(BaseModel):
    code: str = Field(description="invalid_input, unauthorized, not_found, conflict, ...")
    message: str
    problems: list[Problem] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: ErrorDetail


class RuleMatch(BaseModel):
    rule_id: str
    rule_version: str
    outcomes: list[str]


class ReasonOut(BaseModel):
    feature: str
    value: float | None
    impact: float = Field(description="Push on the risk in log-odds (positive raises it).")


class Decision(BaseModel):
    """One scored transaction."""

    event_id: str
    detector_id: str
    detector_version_id: str
    outcome: str | None = Field(description="First outcome of the first matched rule.")
    outcomes: list[str]
    scores: dict[str, float] = Field(description="Model scores (0-1000) by score variable.")
    rules: list[RuleMatch] = Field(description="The rules that matched, in order.")
    reasons: list[ReasonOut]
    model_versions: list[str]
    duplicate: bool = Field(description="The event id was already counted for this entity.")
    scoring_ms: float


class BatchDecisions(BaseModel):
    decisions: list[Decision]


class RecordedPrediction(BaseModel):
    detector_id: str
    detector_version_id: str
    predicted_at: str
    outcome: str | None
    outcomes: list[str]
    scores: dict[str, float]


class StoredEventOut(BaseModel):
    event_id: str
    event_type: str
    entity_type: str
    entity_id: str
    event_time: str
    variables: dict[str, Any]
    label: str | None
    label_time: str | None
    predictions: list[RecordedPrediction] = Field(description="Most recent first (up to 20).")


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(pattern=IDENTIFIER, description="A label of the event type.")
    label_time: datetime | None = Field(default=None, description="Default: now.")


class LabelOut(BaseModel):
    event_id: str
    event_type: str
    label: str
    label_time: str


class RuleRef(BaseModel):
    rule_id: str
    rule_version: str


class VersionOut(BaseModel):
    detector_id: str
    version_id: str
    status: Literal["DRAFT", "ACTIVE", "INACTIVE"]
    description: str
    rule_execution_mode: Literal["FIRST_MATCHED", "ALL_MATCHED"]
    rules: list[RuleRef]
    model_versions: list[str]
    created_time: str
    last_updated_time: str


class VersionsOut(BaseModel):
    detector_id: str
    event_type: str
    versions: list[VersionOut]


Element = Annotated[str, Field(min_length=1, max_length=320, pattern=r"^\S+( +\S+)*$")]


class ListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    elements: list[Element] = Field(max_length=100_000)
    mode: Literal["REPLACE", "APPEND", "REMOVE"] = "REPLACE"
    description: str | None = Field(default=None, min_length=1, max_length=128)
    variable_type: str | None = Field(default=None, pattern=r"^[A-Z_]{1,64}$")


class ListOut(BaseModel):
    name: str
    description: str
    variable_type: str | None
    elements: list[str]
    created_time: str
    updated_time: str


class Health(BaseModel):
    status: Literal["ok"]
    version: str


# -- errors ---------------------------------------------------------------------------------------


class RestError(Exception):
    """An error answered as ``{"error": {"code", "message", "problems"}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        problems: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.problems = problems or []

    def body(self) -> bytes:
        return error_body(self.code, self.message, self.problems)


def error_body(code: str, message: str, problems: list[tuple[str, str]] | None = None) -> bytes:
    detail = {
        "code": code,
        "message": message,
        "problems": [{"field": f, "problem": p} for f, p in problems or []],
    }
    return orjson.dumps({"error": detail})


@contextmanager
def guard() -> Iterator[None]:
    """Domain errors become 4xx with their message; anything else a generic 500 (logged)."""
    try:
        yield
    except RestError:
        raise
    except InvalidInput as exc:
        raise RestError(400, "invalid_input", str(exc), exc.problems) from None
    except NotFound as exc:
        raise RestError(404, "not_found", str(exc)) from None
    except Conflict as exc:
        raise RestError(409, "conflict", str(exc)) from None
    except FraudstreamError as exc:
        log.warning("request failed: %s", exc)
        raise RestError(500, "internal", "the request failed on the server") from None
    except Exception:
        log.exception("REST request failed")
        raise RestError(500, "internal", "an internal error occurred") from None


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid input; problems name the fields."},
    401: {"model": ErrorResponse, "description": "Missing or invalid API key."},
    404: {"model": ErrorResponse, "description": "No such detector, version, event or list."},
    409: {"model": ErrorResponse, "description": "Conflicts with the current state."},
    413: {"model": ErrorResponse, "description": "Request body over the size limit."},
    500: {"model": ErrorResponse, "description": "Internal error (details in the server log)."},
}


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type=JSON)


def _transaction_body(schema_ref: str, *, batch: bool) -> dict[str, Any]:
    item = {"$ref": schema_ref}
    schema: dict[str, Any] = item
    if batch:
        schema = {
            "type": "object",
            "required": ["transactions"],
            "properties": {
                "transactions": {
                    "type": "array",
                    "items": item,
                    "minItems": 1,
                    "maxItems": MAX_BATCH,
                }
            },
        }
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


TRANSACTION_REF = "#/components/schemas/Transaction"


# -- conversions ----------------------------------------------------------------------------------


def decision(prediction: Prediction, event: Event) -> dict[str, Any]:
    out = prediction.to_dict()
    out["event_id"] = event.event_id
    out["scoring_ms"] = round(prediction.scoring_ms, 3)
    return out


def version_out(doc: Doc) -> dict[str, Any]:
    return {
        "detector_id": doc["detectorId"],
        "version_id": doc["detectorVersionId"],
        "status": doc["status"],
        "description": doc.get("description") or "",
        "rule_execution_mode": doc["ruleExecutionMode"],
        "rules": [{"rule_id": r["ruleId"], "rule_version": r["ruleVersion"]} for r in doc["rules"]],
        "model_versions": [
            f"{m['modelId']}:{m['modelVersionNumber']}" for m in doc.get("modelVersions", [])
        ],
        "created_time": doc["createdTime"],
        "last_updated_time": doc["lastUpdatedTime"],
    }


def list_out(doc: Doc) -> dict[str, Any]:
    return {
        "name": doc["name"],
        "description": doc.get("description") or "",
        "variable_type": doc.get("variableType"),
        "elements": doc["elements"],
        "created_time": doc["createdTime"],
        "updated_time": doc["updatedTime"],
    }


def package_version() -> str:
    try:
        return version("fraudstream")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _parse_batch(raw: bytes) -> list[Transaction]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("malformed JSON", [("$", "malformed JSON")]) from None
    if not isinstance(data, dict) or not isinstance(data.get("transactions"), list):
        raise InvalidInput(
            'the body must be {"transactions": [...]}', [("transactions", "must be a list")]
        )
    items = data["transactions"]
    if not 1 <= len(items) <= MAX_BATCH:
        raise InvalidInput(
            f"transactions must hold 1 to {MAX_BATCH} records, not {len(items)}",
            [("transactions", f"1-{MAX_BATCH} records")],
        )
    parsed, problems = [], []
    for i, item in enumerate(items):
        try:
            parsed.append(parse_transaction(item))
        except InvalidInput as exc:
            problems += [(f"transactions[{i}].{where}", what) for where, what in exc.problems]
    if problems:
        detail = "; ".join(f"{w}: {p}" for w, p in problems[:20])
        raise InvalidInput(f"invalid transactions: {detail}", problems)
    return parsed


# -- routes ---------------------------------------------------------------------------------------


def build_router(service: Service, api_keys: frozenset[str]) -> APIRouter:
    """The ``/v1`` routes over one service (closures, so two apps never share state)."""
    verifier = ApiKeyVerifier(api_keys)

    def require_key(
        api_key: Annotated[str | None, Security(api_key_header)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> None:
        key = api_key or (credentials.credentials if credentials else None)
        if not verifier.verify(key):
            raise RestError(
                401,
                "unauthorized",
                "missing or invalid API key: send Authorization: Bearer <key> or X-API-Key",
            )

    open_router = APIRouter(prefix="/v1")
    router = APIRouter(prefix="/v1", dependencies=[Depends(require_key)], responses=ERRORS)

    @open_router.get("/health", response_model=Health, tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness: the process answers (no authentication, no internals)."""
        return {"status": "ok", "version": package_version()}

    @router.post(
        "/predictions",
        response_model=Decision,
        tags=["predictions"],
        openapi_extra=_transaction_body(TRANSACTION_REF, batch=False),
    )
    async def predict(
        request: Request, detector_id: Detector = DETECTOR_ID, version: VersionQuery = None
    ) -> Response:
        """Score one transaction record (the stream's 19-field record) and store it."""
        raw = await request.body()
        with guard():
            event = parse_transaction(raw).to_event()
            prediction = service.predict(event, detector_id, version)
        return _json(decision(prediction, event))

    @router.post(
        "/predictions/batch",
        response_model=BatchDecisions,
        tags=["predictions"],
        openapi_extra=_transaction_body(TRANSACTION_REF, batch=True),
    )
    async def predict_batch(
        request: Request, detector_id: Detector = DETECTOR_ID, version: VersionQuery = None
    ) -> Response:
        """Score up to 1,000 transactions in order; any invalid record rejects the batch."""
        raw = await request.body()

        def work() -> list[dict[str, Any]]:
            with guard():
                transactions = _parse_batch(raw)
                service.engine.compiled(detector_id, version)  # 404 before scoring anything
                out = []
                for tx in transactions:
                    event = tx.to_event()
                    out.append(decision(service.predict(event, detector_id, version), event))
                return out

        return _json({"decisions": await run_in_threadpool(work)})

    @router.get("/events/{event_type}/{event_id}", response_model=StoredEventOut, tags=["events"])
    def get_event(event_type: EventType, event_id: EventId) -> dict[str, Any]:
        """A stored event, its label and its most recent predictions."""
        with guard():
            stored = service.engine.events.get_event(event_type, event_id)
            records = service.engine.events.predictions(
                event_id=event_id, event_type=event_type, limit=20
            )
        event = stored.event
        return {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "entity_type": event.entity_type,
            "entity_id": event.entity_id,
            "event_time": format_time(event.event_time),
            "variables": dict(event.variables),
            "label": stored.label,
            "label_time": None if stored.label_time is None else format_time(stored.label_time),
            "predictions": [
                {
                    "detector_id": r["prediction"]["detector_id"],
                    "detector_version_id": r["prediction"]["detector_version_id"],
                    "predicted_at": format_time(r["predictionTimestamp"]),
                    "outcome": r["prediction"]["outcome"],
                    "outcomes": r["prediction"]["outcomes"],
                    "scores": r["prediction"]["scores"],
                }
                for _, r in records
            ],
        }

    @router.put("/events/{event_type}/{event_id}/label", response_model=LabelOut, tags=["events"])
    def label_event(event_type: EventType, event_id: EventId, body: LabelIn) -> dict[str, Any]:
        """Record the truth about an event (what retraining learns from)."""
        stamp = body.label_time or datetime.now(UTC)
        if stamp.tzinfo is None:  # naive means UTC, as for transactions
            stamp = stamp.replace(tzinfo=UTC)
        when = format_time(stamp)
        with guard():
            service.label_event(event_type, event_id, body.label, when)
        return {
            "event_id": event_id,
            "event_type": event_type,
            "label": body.label,
            "label_time": when,
        }

    @router.get("/detectors/{detector_id}/versions", response_model=VersionsOut, tags=["detectors"])
    def versions(detector_id: DetectorId) -> dict[str, Any]:
        """Every version of a detector with its status, rules and models."""
        with guard():
            detector = service.registry.detector(detector_id)
            docs = service.registry.detector_versions(detector_id)
        return {
            "detector_id": detector_id,
            "event_type": detector["eventTypeName"],
            "versions": [version_out(d) for d in docs],
        }

    @router.post(
        "/detectors/{detector_id}/versions/{version_id}/activate",
        response_model=VersionOut,
        tags=["detectors"],
    )
    def activate(
        detector_id: DetectorId, version_id: Annotated[str, Path(pattern=VERSION)]
    ) -> dict[str, Any]:
        """Make a version ACTIVE; the previous ACTIVE one becomes INACTIVE atomically."""
        with guard():
            return version_out(service.set_version_status(detector_id, version_id, "ACTIVE"))

    @router.get("/lists/{name}", response_model=ListOut, tags=["lists"])
    def get_list(name: ListName) -> dict[str, Any]:
        """A list and its elements (rules use it as ``@name``)."""
        with guard():
            return list_out(service.registry.get_list(name))

    @router.put("/lists/{name}", response_model=ListOut, tags=["lists"])
    def put_list(name: ListName, body: ListIn) -> dict[str, Any]:
        """Replace, append to or remove from a list; REPLACE/APPEND create a missing list."""
        with guard():
            doc = service.update_list(
                name, body.elements, body.mode, body.description, body.variable_type, create=True
            )
        return list_out(doc)

    combined = APIRouter()
    combined.include_router(open_router)
    combined.include_router(router)
    return combined
