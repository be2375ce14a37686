"""One error type for every expected failure, rendered one way, and the catalog of their codes.

An error is declared in one line, its docstring the message callers see:

    class InvoiceNotFound(NotFound, code="invoice_not_found"):
        \"\"\"No such invoice.\"\"\"

Each code is declared by exactly one class (declaring it again fails at import), in its
domain's `errors.py` or here for what every domain shares. A class deriving from a status class
(`NotFound`, `Conflict`, …) answers that status.
"""

from __future__ import annotations

from typing import Any, ClassVar

# code -> the one class that declares it (filled as the classes are defined).
CATALOG: dict[str, type[AppError]] = {}


class AppError(Exception):
    """An unexpected failure (a bug); it is logged."""

    # The base of every expected failure: a stable code and an HTTP status. Subclasses declare
    # `code`, `status` and `retryable` as class keywords; the message is for humans (the
    # docstring unless one is given).

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init_subclass__(
        cls,
        *,
        code: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if retryable is not None:
            cls.retryable = retryable
        if code is not None:
            cls.code = code
            _register(cls)

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.details = details
        self.headers: dict[str, str] = {}


def _register(cls: type[AppError]) -> None:
    known = CATALOG.get(cls.code)
    if known is not None and (known.__module__, known.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise TypeError(f"error code {cls.code!r} is declared by {known!r} already")
    CATALOG[cls.code] = cls


CATALOG["internal_error"] = AppError


# --- the status classes: a subclass answers the same status ------------------------------


class ValidationFailed(AppError, code="validation_error", status=400):
    """The request is not valid."""


class Unauthorized(AppError, code="unauthorized", status=401):
    """Authentication is required."""


class Forbidden(AppError, code="forbidden", status=403):
    """The caller may not do this."""


class NotFound(AppError, code="not_found", status=404):
    """The resource does not exist."""


class Conflict(AppError, code="conflict", status=409):
    """The request conflicts with the current state."""


class Unprocessable(AppError, code="unprocessable_entity", status=422):
    """The request is well formed but cannot be carried out as it stands."""


class DependencyUnavailable(AppError, code="service_unavailable", status=503, retryable=True):
    """A dependency (database, broker, cache, gateway) is unavailable; try again later."""


STATUS_CLASSES: tuple[type[AppError], ...] = (
    ValidationFailed,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Unprocessable,
    DependencyUnavailable,
)


# --- what every HTTP edge shares --------------------------------------------------------------


class MethodNotAllowed(AppError, code="method_not_allowed", status=405):
    """This route does not answer this HTTP method."""


class PayloadTooLarge(AppError, code="payload_too_large", status=413):
    """The request body is larger than this API accepts."""


class UnsupportedMediaType(AppError, code="unsupported_media_type", status=415):
    """Send the request body as application/json."""


class InvalidJson(ValidationFailed, code="invalid_json"):
    """The request body is not valid JSON."""


class RateLimited(AppError, code="rate_limited", status=429):
    """Too many requests; retry after the number of seconds in Retry-After."""

    def __init__(self, retry_after: int, scope: str) -> None:
        super().__init__(scope=scope)
        self.headers["Retry-After"] = str(retry_after)


class HttpError(AppError, code="http_error"):
    """An HTTP error of the framework with no code of its own (its status is the framework's)."""


# --- state changes, locks and the broker (paycore.kit.state, .redis, .broker) ---------------


class InvalidTransition(Conflict, code="invalid_transition"):
    """This state change is not allowed from the current state."""


class ChangedConcurrently(Conflict, code="concurrent_modification", retryable=True):
    """The resource changed while this request was applying; try again."""


class LockNotAcquired(Conflict, code="resource_locked"):
    """The resource is locked by another operation; try again shortly."""


class PublishNotConfirmed(AppError, code="publish_not_confirmed", status=503, retryable=True):
    """The broker did not confirm the message."""


class UnroutableEvent(AppError, code="unroutable_event"):
    """No queue is bound for this event's routing key; it was not delivered."""


# --- money (paycore.money) ----------------------------------------------------------------


class UnknownCurrency(ValidationFailed, ValueError, code="unknown_currency"):
    """The currency is not supported."""


class InvalidAmount(ValidationFailed, ValueError, code="invalid_amount"):
    """The amount is not a valid amount of the currency."""


def error_body(error: AppError, request_id: str | None) -> dict[str, Any]:
    """The JSON body every error response has."""
    body: dict[str, Any] = {"code": error.code, "message": error.message, "requestId": request_id}
    if error.details:
        body["details"] = error.details
    return {"error": body}


def success_body(data: Any, request_id: str | None = None) -> dict[str, Any]:
    """The JSON envelope every success response has."""
    return {"data": data, "requestId": request_id}
