"""Cashfree's webhook signature: base64(HMAC-SHA256(secret, timestamp_ms + raw_body))."""

import base64
import hashlib
import hmac


def webhook_signature(secret_key: str, timestamp_ms: str, raw_body: bytes) -> str:
    # Plain concatenation with no separator, exactly as the official SDKs do.
    message = timestamp_ms.encode() + raw_body
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def payload_idempotency_key(raw_body: bytes) -> str:
    """Stable per payload, so a redelivery carries the same key (2025-01-01 webhooks)."""
    return base64.b64encode(hashlib.sha256(raw_body).digest()).decode()
