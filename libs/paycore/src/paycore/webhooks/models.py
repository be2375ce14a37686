from __future__ import annotations

import base64
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from paycore.kit.crypto import FieldCipher, Sealed
from paycore.kit.events import OUTBOX_DUE_INDEX, OutboxEvent

# The context raw bodies are sealed under (paycore.kit.crypto).
BODY_CONTEXT = "webhook.body"


class BodySealed(Exception):
    """The stored body is sealed and no cipher was given to open it."""


class WebhookStatus(StrEnum):
    RECEIVED = "RECEIVED"  # stored by the ingress, not yet applied
    # No longer written: processing writes the log once, at the end (lifecycle.py). Logs stored
    # by older processors may hold it (a crash left it there); it reads as not yet applied.
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"  # applied, or recorded as changing nothing
    FAILED = "FAILED"  # cannot be applied: malformed, amount mismatch, or out of retries
    ORPHANED = "ORPHANED"  # about an order or settlement we do not know; an admin was alerted
    IGNORED = "IGNORED"  # an event type we do not act on; stored and acknowledged


# A delivery of the processing message finds these and changes nothing.
FINAL_STATUSES = frozenset(
    {WebhookStatus.SUCCESS, WebhookStatus.FAILED, WebhookStatus.ORPHANED, WebhookStatus.IGNORED}
)


class BodyEncoding(StrEnum):
    UTF8 = "utf-8"
    BASE64 = "base64"  # bytes that are not valid UTF-8 (never from Cashfree, kept all the same)


class StoredHeader(BaseModel):
    # A list of pairs, not a dict: header names come from the caller (docs/ferretdb-compat.md §7.7).
    name: str
    value: str


class WebhookLog(Document):
    log_id: str  # whk_…
    event_id: str  # Cashfree's x-idempotency-key, else "sha256:<hex of the body>"
    provider: str = "cashfree"
    event_type: str  # PAYMENT_SUCCESS_WEBHOOK, … ("UNKNOWN" if the body names none)
    webhook_version: str | None = None  # x-webhook-version: the payload format
    # The raw body exactly as received (see body_encoding), sealed: it names customers (email,
    # phone). `body` holds it in the clear only in logs stored before sealing existed.
    sealed_body: Sealed | None = None
    body: str = ""
    body_encoding: BodyEncoding = BodyEncoding.UTF8
    body_sha256: str
    signature: str
    timestamp: str  # x-webhook-timestamp, milliseconds
    delivery_attempt: int | None = None  # x-webhook-attempt of the stored copy
    # Signed, but its timestamp was outside the window (a late retry or a replay): what it
    # says is confirmed with the gateway before anything is applied.
    out_of_window: bool = False
    headers: list[StoredHeader] = Field(default_factory=list)  # masked
    status: WebhookStatus = WebhookStatus.RECEIVED
    version: int = 0  # guards every change (`guarded_update`)
    attempts: int = 0  # processing attempts that finished or failed (not one killed mid-way)
    reason: str | None = None  # why FAILED / ORPHANED / IGNORED, or the last retried error
    outcome: str | None = None  # what applying it did: applied, duplicate, refused, …
    order_id: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    discrepancy: dict[str, Any] | None = None  # amount or currency the gateway reported vs ours
    dead_lettered: bool = False
    last_error: str | None = None
    outbox: list[OutboxEvent] = Field(default_factory=list)
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    processing_started_at: datetime | None = None  # when the attempt that finished it began
    processed_at: datetime | None = None
    reopened_at: datetime | None = None  # by an operator's replay or reprocess
    dropped_at: datetime | None = None  # an operator deleted its dead letter (never applied)
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    class Settings:
        name = "webhook_logs"
        indexes = [
            IndexModel([("event_id", ASCENDING)], name="event_id_unique", unique=True),
            IndexModel([("log_id", ASCENDING)], name="log_id_unique", unique=True),
            IndexModel([("status", ASCENDING), ("received_at", ASCENDING)], name="status_received"),
            IndexModel([("order_id", ASCENDING)], name="order_id"),
            IndexModel(
                [("dead_lettered", ASCENDING), ("received_at", ASCENDING)], name="dead_lettered"
            ),
            IndexModel([("received_at", ASCENDING)], name="received_at"),  # retention
            OUTBOX_DUE_INDEX,
        ]

    def raw_body(self, cipher: FieldCipher | None = None) -> bytes:
        """The body bytes exactly as Cashfree sent them; a sealed body needs the `cipher`
        (raises `BodySealed` without it)."""
        text = self.body
        if self.sealed_body is not None:
            if cipher is None:
                raise BodySealed(self.log_id)
            text = cipher.open(self.sealed_body, BODY_CONTEXT)
        if self.body_encoding == BodyEncoding.BASE64:
            return base64.b64decode(text)
        return text.encode()
