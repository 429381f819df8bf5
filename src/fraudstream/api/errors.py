"""AWS-shaped errors: the ``__type`` code and HTTP status botocore turns into exception classes.

``client.exceptions.ValidationException`` and friends exist only if the body's ``__type``
names a modelled error, so every failure is translated here, in one place, and anything we did
not anticipate becomes a generic InternalServerException (its trace goes to the server log,
never to the caller).
"""

from __future__ import annotations

import logging

from fraudstream.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger("fraudstream.api")

STATUS: dict[str, int] = {
    "ValidationException": 400,
    "ResourceNotFoundException": 400,
    "ConflictException": 400,
    "SerializationException": 400,
    "UnknownOperationException": 400,
    "ThrottlingException": 429,
    "AccessDeniedException": 403,
    "UnrecognizedClientException": 403,
    "RequestEntityTooLargeException": 413,
    "InternalServerException": 500,
}


class ApiError(Exception):
    """An error answered to the caller as ``{"__type": code, "message": message}``."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        problems: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS.get(code, 400)
        self.problems: list[tuple[str, str]] = problems or []


def validation(message: str, problems: list[tuple[str, str]] | None = None) -> ApiError:
    return ApiError("ValidationException", message, problems=problems)


def not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundException", message)


def from_exception(exc: BaseException, request_id: str) -> ApiError:
    """Our domain errors keep their message; anything else is logged and made generic."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InvalidInput):
        return ApiError("ValidationException", str(exc), problems=exc.problems)
    if isinstance(exc, NotFound):
        return ApiError("ResourceNotFoundException", str(exc))
    if isinstance(exc, Conflict):
        return ApiError("ConflictException", str(exc))
    log.error("request %s failed", request_id, exc_info=exc)
    return ApiError(
        "InternalServerException",
        f"An internal error occurred; quote request id {request_id} to the operator.",
    )
