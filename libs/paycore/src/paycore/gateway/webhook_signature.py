"""Cashfree webhook signatures: base64(HMAC-SHA256(secret, timestamp + raw_body)).

Verify the raw bytes before parsing: re-serialised JSON changes (`170.00` becomes `170`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

from paycore.gateway.errors import WebhookSignatureError


def sign_webhook(raw_body: bytes, timestamp_ms: int | str, secret: bytes) -> str:
    """The `x-webhook-signature` Cashfree would send (for tests and tools)."""
    digest = hmac.new(secret, str(timestamp_ms).encode() + raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook_signature(
    raw_body: bytes,
    signature: str | None,
    timestamp: str | None,
    secrets: Sequence[bytes],
    *,
    now_ms: int | None = None,
    tolerance_ms: int,
) -> None:
    """Raises `WebhookSignatureError` unless one active secret signed this body recently.

    The signature is checked first, so "stale_timestamp" always means: genuinely signed by
    Cashfree, but outside the window (a late retry, or a replay). The caller decides what to
    do with such a webhook; the ingress keeps it for confirmation with the gateway.
    """
    if not signature:
        raise WebhookSignatureError("missing_signature")
    if not timestamp:
        raise WebhookSignatureError("missing_timestamp")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 16:
        raise WebhookSignatureError("malformed_timestamp")
    presented = signature.strip().encode()
    # Check every secret (no early exit) so timing does not reveal which one matched.
    matched = False
    for secret in secrets:
        expected = sign_webhook(raw_body, timestamp, secret).encode()
        matched |= hmac.compare_digest(expected, presented)
    if not matched:
        raise WebhookSignatureError("bad_signature")
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    # Both directions: a far-future timestamp would otherwise stay replayable for longer.
    if abs(now - int(timestamp)) > tolerance_ms:
        raise WebhookSignatureError("stale_timestamp")
