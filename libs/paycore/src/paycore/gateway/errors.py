"""Gateway failures as our errors; Cashfree's error body is `{message, code, type, help}`."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from paycore.kit.errors import AppError

# Why a webhook signature was refused (paycore.gateway.webhook_signature).
SignatureFailure = Literal[
    "missing_signature",
    "missing_timestamp",
    "malformed_timestamp",
    "stale_timestamp",
    "bad_signature",
]


class GatewayError(AppError, code="gateway_error", status=502):
    """The payment gateway call failed."""

    # True when the gateway may have acted although we got no answer: look it up before
    # assuming nothing happened (or repeat with the same idempotency key).
    outcome_unknown: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        gateway_code: str | None = None,
        gateway_type: str | None = None,
        http_status: int | None = None,
        **details: Any,
    ) -> None:
        if gateway_code is not None:
            details["gateway_code"] = gateway_code  # rendered with the error: says what to fix
        super().__init__(message, **details)
        self.gateway_code = gateway_code
        self.gateway_type = gateway_type
        self.http_status = http_status


class GatewayAuthError(GatewayError, code="gateway_auth_failed"):
    """The gateway rejected our credentials."""


class GatewayValidationError(GatewayError, code="gateway_validation_failed", status=400):
    """The gateway rejected the request as invalid."""


class GatewayNotFound(GatewayError, code="gateway_not_found", status=404):
    """The gateway does not know this resource."""


class GatewayConflict(GatewayError, code="gateway_conflict", status=409):
    """The request conflicts with what the gateway already has."""


class GatewayIdempotencyError(GatewayError, code="gateway_idempotency_conflict", status=409):
    """The idempotency key was already used for a different request."""


class GatewayRateLimited(GatewayError, code="gateway_rate_limited", status=503, retryable=True):
    """The gateway is rate limiting us; try again later."""

    def __init__(self, message: str | None = None, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.headers["Retry-After"] = str(max(1, round(retry_after)))


class GatewayServerError(GatewayError, code="gateway_server_error", retryable=True):
    """The gateway failed on its side; try again later."""


# Retryable: a later delivery or poll looks it up again (with the same idempotency key for a
# write). Never a reason for a negative final state.
class GatewayOutcomeUnknown(
    GatewayError, code="gateway_outcome_unknown", status=504, retryable=True
):
    """The gateway may or may not have acted on the request: look again later, never assume
    it failed (e.g. it said "already exists" and then could not find it)."""

    # Repeating blindly is not safe in general: only a lookup (or the same idempotency key,
    # which the client's own retries already use) settles the outcome.
    outcome_unknown = True


class GatewayTimeout(GatewayOutcomeUnknown, code="gateway_timeout"):
    """No complete answer from the gateway in time; it may have acted on the request."""


class GatewayUnavailable(GatewayError, code="gateway_unavailable", status=503, retryable=True):
    """The gateway cannot be reached; the request was not sent."""


class GatewayInvalidResponse(GatewayError, code="gateway_invalid_response"):
    """The gateway answered with something we cannot read."""


class WebhookSignatureError(AppError, code="webhook_signature_invalid", status=401):
    """The webhook signature does not match any active secret."""

    def __init__(self, reason: SignatureFailure) -> None:
        super().__init__(reason=reason)
        self.reason: SignatureFailure = reason


_BY_HTTP_STATUS: dict[int, type[GatewayError]] = {
    400: GatewayValidationError,
    401: GatewayAuthError,
    403: GatewayAuthError,
    404: GatewayNotFound,
    409: GatewayConflict,
    422: GatewayIdempotencyError,
}


def error_for_response(
    http_status: int, body: object, *, retry_after: float | None = None
) -> GatewayError:
    """Maps a non-200 answer and its error body to one of our errors."""
    fields = body if isinstance(body, dict) else {}
    message = fields.get("message") if isinstance(fields.get("message"), str) else None
    gateway_code = fields.get("code") if isinstance(fields.get("code"), str) else None
    gateway_type = fields.get("type") if isinstance(fields.get("type"), str) else None
    text = f"cashfree {http_status}: {message or 'no message'}"
    context: dict[str, Any] = {
        "gateway_code": gateway_code,
        "gateway_type": gateway_type,
        "http_status": http_status,
    }
    if http_status == 429:
        return GatewayRateLimited(text, retry_after=retry_after or 1.0, **context)
    if http_status >= 500:
        return GatewayServerError(text, **context)
    return _BY_HTTP_STATUS.get(http_status, GatewayValidationError)(text, **context)
