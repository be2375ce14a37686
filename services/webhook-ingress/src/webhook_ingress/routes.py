"""The webhook endpoint: raw bytes (size-limited), signature and timestamp, then the intake.

Nothing is parsed before the signature holds; every rejection is counted by reason
(`paycore_webhooks_received_total{result}`) and logged with the headers masked.
"""

from __future__ import annotations

from typing import Any, Final, Literal, NamedTuple

from loguru import logger
from paycore.gateway import WebhookSignatureError, verify_webhook_signature
from paycore.kit.errors import (
    AppError,
    DependencyUnavailable,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from paycore.kit.http import render_error
from paycore.kit.logging import mask_value
from paycore.kit.parsing import ascii_int
from paycore.webhooks.errors import MalformedWebhook, MissingWebhookHeaders
from paycore.webhooks.intake import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    VERSION_HEADER,
    WebhookIntake,
)
from paycore.webhooks.metrics import WEBHOOKS_RECEIVED
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from webhook_ingress.settings import Settings

PATHS: Final = (
    "/api/v1/webhooks/cashfree",
    # Aliases for merchants moving from the existing Node integration.
    "/api/webhook/cashfree",
    "/api/cashfree/webhook",
)


# What the ingress refuses, each counted under a `result` label; `WebhookSignatureError` only
# for a signature that does not match (missing or unreadable headers are malformed).
REJECTIONS: Final = (
    PayloadTooLarge,
    MissingWebhookHeaders,
    WebhookSignatureError,
    UnsupportedMediaType,
    MalformedWebhook,
)


# What else a delivery may get: a dependency down (503: Cashfree delivers it again later) or a
# bug (500).
REFUSALS: Final = (*REJECTIONS, DependencyUnavailable, AppError)


class Header(NamedTuple):
    name: str
    required: bool
    description: str


# The headers a webhook is checked and stored by.
HEADERS: Final = (
    Header(
        SIGNATURE_HEADER,
        required=True,
        description="base64(HMAC-SHA256(client secret, timestamp + raw body)), checked before "
        "anything is parsed.",
    ),
    Header(
        TIMESTAMP_HEADER,
        required=True,
        description="Milliseconds since the epoch. Outside the window a correctly signed "
        "webhook is still kept, and confirmed with Cashfree before it changes anything.",
    ),
    Header(
        VERSION_HEADER,
        required=False,
        description="The payload format (e.g. `2025-01-01`), stored with the log.",
    ),
    Header(
        IDEMPOTENCY_HEADER,
        required=False,
        description="One per unique payload: the event id a repeat is recognised by (else the "
        "body's SHA-256).",
    ),
)


class SignedWebhook(BaseModel):
    """Cashfree's webhook: a JSON object stored byte for byte once its signature holds; only
    `type` is read here, the webhook processor parses the rest."""

    model_config = ConfigDict(extra="allow")

    type: str | None = None  # e.g. PAYMENT_SUCCESS_WEBHOOK; missing: stored as UNKNOWN
    event_time: str | None = None
    data: dict[str, Any] | None = None


class Accepted(BaseModel):
    """The 200 Cashfree gets for a webhook stored now or before (`duplicate`)."""

    status: Literal["accepted", "duplicate"]
    log_id: str | None = Field(serialization_alias="logId")


TOO_LARGE: Final = "The webhook body is larger than allowed."


def result_of(error: AppError) -> str:
    """The metric's label for a rejection."""
    return "invalid_signature" if isinstance(error, WebhookSignatureError) else "malformed"


async def read_body(request: Request, limit: int) -> bytes:
    declared = ascii_int(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise PayloadTooLarge(TOO_LARGE, limit=limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(TOO_LARGE, limit=limit)
    return bytes(body)


def verify(raw: bytes, request: Request, settings: Settings) -> bool:
    """Raises `Rejected` unless the body is signed by Cashfree; True if its timestamp is
    outside the window.

    Cashfree retries a failed delivery for ~40 minutes by default (longer with custom
    policies and batch resends), and does not document whether a retry is signed with a
    fresh timestamp, so a genuinely signed webhook outside the window is never dropped: it is
    kept and confirmed with the gateway before it changes anything (the durable dedupe by
    event id blocks a replay of one already stored).
    """
    try:
        verify_webhook_signature(
            raw,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(TIMESTAMP_HEADER),
            settings.webhook_secrets,
            tolerance_ms=settings.webhook_tolerance_ms,
        )
        out_of_window = False
    except WebhookSignatureError as exc:
        if exc.reason == "bad_signature":
            raise
        if exc.reason != "stale_timestamp":
            raise MissingWebhookHeaders(reason=exc.reason) from None
        out_of_window = True  # the signature held (it is checked first)
    content_type = request.headers.get("content-type", "application/json").lower()
    if "json" not in content_type:
        raise UnsupportedMediaType("Webhooks are JSON.", content_type=content_type[:100])
    return out_of_window


def rejection(error: AppError, request: Request) -> Response:
    WEBHOOKS_RECEIVED.labels(result_of(error)).inc()
    logger.warning(
        "webhook rejected",
        reason=error.code,
        status=error.status,
        headers=mask_value("headers", dict(request.headers)),
    )
    return render_error(error)


async def receive(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    intake: WebhookIntake = request.app.state.intake
    try:
        raw = await read_body(request, settings.webhook_max_body_bytes)
        out_of_window = verify(raw, request, settings)
        receipt = await intake.accept(raw, request.headers, out_of_window=out_of_window)
    except REJECTIONS as error:
        return rejection(error, request)
    except DependencyUnavailable:
        WEBHOOKS_RECEIVED.labels("error").inc()
        raise  # 503: Cashfree delivers it again later
    WEBHOOKS_RECEIVED.labels("duplicate" if receipt.duplicate else "accepted").inc()
    if receipt.duplicate:
        logger.info("webhook duplicate", eventId=receipt.event_id)
    elif out_of_window:
        WEBHOOKS_RECEIVED.labels("out_of_window").inc()
        logger.warning(
            "webhook outside the timestamp window: kept for confirmation", eventId=receipt.event_id
        )
    # `Accepted` as its wire form, written directly (the model documents it).
    status = "duplicate" if receipt.duplicate else "accepted"
    return JSONResponse({"status": status, "logId": receipt.log_id})


# Each path also with a trailing slash, answered the same: Starlette would otherwise redirect,
# and Cashfree counts a 3xx as a failed delivery.
routes = [Route(p, receive, methods=["POST"]) for path in PATHS for p in (path, path + "/")]
