"""The message envelope every event travels in, and where its routing key goes."""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, IndexModel

from paycore.events.catalog import payload_model
from paycore.events.payloads import Payload
from paycore.kit.context import current_headers
from paycore.kit.ids import new_id

EXCHANGES = ("payment", "webhook", "email", "analytics", "refund")

P = TypeVar("P", bound=Payload)

# When a document's oldest waiting event occurred: the outbox relay's sweep selects on it.
OUTBOX_DUE = "outbox.0.envelope.occurred_at"
# Every model with an `outbox` declares this index, so that a sweep reads the documents whose
# events wait, not the collection (MongoDB indexes the array's first element by position; the
# local server builds it on the expression its range pushdown searches: infra/local/README.md).
OUTBOX_DUE_INDEX = IndexModel([(OUTBOX_DUE, ASCENDING)], name="outbox_due")


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

    def payload(self, model: builtins.type[P]) -> P:
        """`data` read as the routing key's payload model (`paycore.events.catalog`);
        pydantic's `ValidationError` (a `ValueError`) if it does not fit."""
        return model.model_validate(self.data)


class OutboxEvent(BaseModel):
    """An event waiting in a document's outbox, with the ids of the request that made it."""

    envelope: EventEnvelope
    headers: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(
        cls, event_type: str, data: dict[str, Any] | Payload, event_id: str | None = None
    ) -> OutboxEvent:
        """The event of routing key `event_type`, its `data` checked against the key's payload
        model (`paycore.events.catalog`): `KeyError` for a key not in the catalog, pydantic's
        `ValidationError` for data that does not fit. A dict is stored as it is (the wire
        format is the publisher's); a model as the fields it was given."""
        model = payload_model(event_type)
        if isinstance(data, Payload):
            if not isinstance(data, model):
                raise TypeError(f"{event_type} carries {model.__name__}, not {type(data).__name__}")
            data = data.model_dump(exclude_unset=True)
        else:
            model.model_validate(data)
        envelope = EventEnvelope(type=event_type, data=data)
        if event_id is not None:
            envelope.event_id = event_id
        return cls(envelope=envelope, headers=current_headers())
