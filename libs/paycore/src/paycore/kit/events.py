"""The message envelope every event travels in, and where its routing key goes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from paycore.kit.context import current_headers
from paycore.kit.ids import new_id

EXCHANGES = ("payment", "webhook", "email", "analytics", "refund")


def exchange_for(routing_key: str) -> str:
    """`payment.success` goes to `payment.exchange`: the first word names the exchange."""
    family = routing_key.split(".", 1)[0]
    if family not in EXCHANGES:
        raise ValueError(f"no exchange for routing key {routing_key!r}")
    return f"{family}.exchange"


def now_ms() -> datetime:
    """Now, at the millisecond precision MongoDB keeps: an event read back from a document
    equals the one written, which the outbox's exact-value `$pull` relies on."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class EventEnvelope(BaseModel):
    """`{event_id, type, version, occurred_at, data}`; `type` is the routing key."""

    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(default_factory=lambda: new_id("evt"))
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: now_ms())
    data: dict[str, Any] = Field(default_factory=dict)


class OutboxEvent(BaseModel):
    """An event waiting in a document's outbox, with the ids of the request that made it."""

    envelope: EventEnvelope
    headers: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, event_type: str, data: dict[str, Any], event_id: str | None = None) -> OutboxEvent:
        envelope = EventEnvelope(type=event_type, data=data)
        if event_id is not None:
            envelope.event_id = event_id
        return cls(envelope=envelope, headers=current_headers())
