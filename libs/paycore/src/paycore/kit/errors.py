"""One error type for every expected failure, rendered one way."""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """An expected failure with a stable code and an HTTP status.

    Subclasses set `code`, `status` and `retryable`; the message is for humans.
    """

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.details = details
        self.headers: dict[str, str] = {}


class ValidationFailed(AppError):
    """The request is not valid."""

    code = "validation_error"
    status = 400


class Unauthorized(AppError):
    """Authentication is required."""

    code = "unauthorized"
    status = 401


class Forbidden(AppError):
    """The caller may not do this."""

    code = "forbidden"
    status = 403


class NotFound(AppError):
    """The resource does not exist."""

    code = "not_found"
    status = 404


class Conflict(AppError):
    """The request conflicts with the current state."""

    code = "conflict"
    status = 409


class DependencyUnavailable(AppError):
    """A dependency (database, broker, cache, gateway) is unavailable; try again later."""

    code = "service_unavailable"
    status = 503
    retryable = True


def error_body(error: AppError, request_id: str | None) -> dict[str, Any]:
    """The JSON body every error response has."""
    body: dict[str, Any] = {"code": error.code, "message": error.message, "requestId": request_id}
    if error.details:
        body["details"] = error.details
    return {"error": body}


def success_body(data: Any, request_id: str | None = None) -> dict[str, Any]:
    """The JSON envelope every success response has."""
    return {"data": data, "requestId": request_id}
