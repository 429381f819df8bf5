"""The application: AFD's protocol on ``POST /``, the REST API under ``/v1``, one engine.

``create_app(engine, settings)`` is all a server (uvicorn, a test, another ASGI host) needs.
The engine belongs to the caller, who opens and closes it; the app only flushes buffered
events when it shuts down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from fraudstream.api.endpoint import AfdEndpoint, ClientGoneError, Message, read_body
from fraudstream.api.errors import ApiError
from fraudstream.api.rest import JSON, RestError, build_router, error_body, package_version
from fraudstream.api.service import Service
from fraudstream.api.settings import Settings
from fraudstream.detector import Engine
from fraudstream.events import Transaction

DESCRIPTION = """\
fraudstream scores payments with an Amazon Fraud Detector-compatible engine.

* **AFD protocol**: `POST /` with `X-Amz-Target: AWSHawksNestServiceFacade.<Operation>`,
  signed with AWS SigV4: use `boto3.client("frauddetector", endpoint_url=...)` unchanged.
* **REST** (this document): `/v1/...` with an API key in `Authorization: Bearer <key>` or
  `X-API-Key`. Errors are `{"error": {"code", "message", "problems": [{"field", "problem"}]}}`.
"""

log = logging.getLogger("fraudstream.api")

#: How often stored events and predictions are written in the background.
FLUSH_INTERVAL_SECONDS = 0.1

_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


class AfdRouter:
    """Sends ``POST /`` to the AFD endpoint before FastAPI routing sees it."""

    def __init__(self, app: ASGIApp, endpoint: AfdEndpoint) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "POST":
            await self.endpoint(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class BodyLimit:
    """Refuse (413) any REST body over the limit before a route buffers or parses it.

    ``overrides`` maps exact paths to their own limit (the batch route needs more)."""

    def __init__(self, app: ASGIApp, limit: int, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.overrides = overrides or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.overrides.get(scope["path"], self.limit)
        try:
            for name, value in scope["headers"]:
                if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                    raise ApiError("too_large", "", status=413)
            body = await read_body(receive, limit)
        except ClientGoneError:
            return
        except ApiError:
            payload = error_body(
                "too_large", f"the request body exceeds the limit of {limit} bytes"
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", JSON.encode()),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class EventFlusher:
    """Writes buffered events and predictions every ``interval`` seconds on its own thread,
    so the scoring path (which runs on the event loop) never pays for a SQLite commit."""

    def __init__(self, engine: Engine, interval: float = FLUSH_INTERVAL_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-flusher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._engine.events.flush()
            except Exception:
                log.exception("writing buffered events failed (will retry)")


def _problems(exc: RequestValidationError) -> list[tuple[str, str]]:
    out = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        where = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else "$")
        out.append((where, str(error.get("msg", "invalid"))))
    return out


def create_app(engine: Engine, settings: Settings) -> FastAPI:
    """The ASGI app serving both APIs over ``engine`` with ``settings``' keys and limits.

    Raises SettingsError when ``settings`` holds no key at all (see Settings.require_keys).
    """
    settings.require_keys()
    service = Service(engine, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        flusher = EventFlusher(engine)
        flusher.start()
        try:
            yield
        finally:
            flusher.stop()
            engine.flush()

    app = FastAPI(
        title="fraudstream",
        version=package_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.service = service
    app.include_router(build_router(service, settings.api_keys))

    @app.exception_handler(RestError)
    async def rest_error(request: Request, exc: RestError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return Response(exc.body(), status_code=exc.status, media_type=JSON, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = _problems(exc)
        message = "invalid request: " + "; ".join(f"{w}: {p}" for w, p in problems[:10])
        return Response(
            error_body("invalid_input", message, problems), status_code=400, media_type=JSON
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return Response(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            media_type=JSON,
            headers=getattr(exc, "headers", None),
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["Transaction"] = Transaction.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        overrides={"/v1/predictions/batch": settings.max_batch_body_bytes},
    )
    app.add_middleware(AfdRouter, endpoint=AfdEndpoint(service, settings))
    if settings.dashboard is not None:
        from fraudstream.dashboard import install  # the one hook; see fraudstream.dashboard

        install(app, engine, settings.dashboard)
    return app
