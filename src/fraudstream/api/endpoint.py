"""``POST /`` for AFD's JSON 1.1 protocol as a bare ASGI handler.

It sits in front of the FastAPI app instead of being a route: GetEventPrediction is the
hot path, and skipping request objects, dependency injection and response classes keeps the
framework's share of a prediction to a few tens of microseconds. Every failure, expected or
not, leaves as an AWS-shaped error; nothing escapes to the server.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
import orjson

from fraudstream.api.auth import SigV4Verifier
from fraudstream.api.errors import ApiError, from_exception
from fraudstream.api.operations import INLINE, dispatch
from fraudstream.api.protocol import (
    CONTENT_TYPE,
    SERVICE,
    Operations,
    operation_name,
    validate,
)
from fraudstream.api.service import Service
from fraudstream.api.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("fraudstream.api")

_JSON_TYPES = ("application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json")


class ClientGoneError(Exception):
    """The client disconnected before sending its whole request."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def too_large(limit: int) -> ApiError:
    return ApiError(
        "ValidationException",
        f"the request body exceeds the limit of {limit} bytes",
        status=413,
        problems=[("$", "too large")],
    )


class AfdEndpoint:
    """Authenticate, parse, validate, dispatch and answer one AFD request."""

    def __init__(
        self, service: Service, settings: Settings, operations: Operations | None = None
    ) -> None:
        self.service = service
        self.operations = operations or Operations()
        self.verifier = SigV4Verifier(
            settings.access_keys,
            service=SERVICE,
            max_skew_seconds=settings.max_clock_skew_seconds,
        )
        self.max_body = settings.max_body_bytes
        self.max_in_flight = settings.max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        operation = "?"
        headers: list[tuple[bytes, bytes]] = [(b"x-amzn-requestid", request_id.encode())]
        try:
            if self.in_flight >= self.max_in_flight:
                raise ApiError("ThrottlingException", "Rate exceeded")
            self.in_flight += 1
            try:
                operation, payload = await self._handle(scope, receive)
            finally:
                self.in_flight -= 1
            status = 200
        except ClientGoneError:
            return
        except Exception as exc:
            error = from_exception(exc, request_id)
            status = error.status
            payload = orjson.dumps({"__type": error.code, "message": error.message})
            headers.append((b"x-amzn-errortype", error.code.encode()))
        headers += [
            (b"content-type", CONTENT_TYPE.encode()),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s %d %.2fms",
                request_id,
                operation,
                status,
                (time.perf_counter() - started) * 1000,
            )

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[str, bytes]:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            raise too_large(self.max_body)
        body = await read_body(receive, self.max_body)
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        self.verifier.verify(scope["method"], path, query, headers, body)

        name = operation_name(headers.get("x-amz-target"))
        if name not in self.operations:
            raise ApiError(
                "UnknownOperationException",
                f"{name[:64]} is not an operation of Amazon Fraud Detector",
            )
        content_type = headers.get("content-type", CONTENT_TYPE).split(";")[0].strip().lower()
        if content_type not in _JSON_TYPES:
            raise ApiError(
                "SerializationException",
                f"Content-Type must be {CONTENT_TYPE}, not {content_type!r}",
            )
        try:
            data = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError:
            raise ApiError("SerializationException", "the request body is not valid JSON") from None
        operation = self.operations[name]
        validate(operation, data)
        if name in INLINE:
            result = dispatch(self.service, name, data)
        else:
            result = await anyio.to_thread.run_sync(dispatch, self.service, name, data)
        return name, orjson.dumps(operation.project(result))


__all__ = ["AfdEndpoint", "ClientGoneError", "read_body", "too_large"]
