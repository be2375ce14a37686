from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from paycore.kit.events import OUTBOX_DUE_INDEX, OutboxEvent
from paycore.kit.mongo import KeyedDocument


class FraudDecision(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"  # allowed, but flagged for a human
    BLOCK = "block"


class FraudSignal(KeyedDocument):
    """A flag or a block, with what triggered it. Identifiers are keyed hashes, never raw PII."""

    key_field = "signal_id"

    signal_id: str  # frd_…
    decision: FraudDecision
    reasons: list[str]
    counts: dict[str, int] = Field(default_factory=dict)  # fixed keys: user, ip, email, ...
    user_id: str
    payment_id: str | None = None
    amount: int | None = None
    currency: str | None = None
    ip_hash: str | None = None
    email_hash: str | None = None
    device_hash: str | None = None
    outbox: list[OutboxEvent] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    class Settings:
        name = "fraud_signals"
        indexes = [
            IndexModel([("signal_id", ASCENDING)], name="signal_id_unique", unique=True),
            IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_created"),
            OUTBOX_DUE_INDEX,
        ]
