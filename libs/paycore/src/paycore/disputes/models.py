from __future__ import annotations

from datetime import datetime

from pydantic import Field
from pymongo import ASCENDING, IndexModel

from paycore.gateway.schemas import GatewayDisputeOutcome
from paycore.kit.audit import audited
from paycore.kit.mongo import TimestampedDocument
from paycore.kit.state import TransitionRecord


class Dispute(TimestampedDocument):
    """A dispute or chargeback against one of our payments, as the gateway last reported it."""

    key_field = "dispute_id"

    dispute_id: str  # Cashfree's
    payment_id: str
    order_id: str
    cf_payment_id: str | None = None
    dispute_type: str | None = None  # DISPUTE, CHARGEBACK, RETRIEVAL, PRE_ARBITRATION, ...
    status: str  # the gateway's own status text
    outcome: GatewayDisputeOutcome = GatewayDisputeOutcome.OPEN
    amount: int  # minor units: what the customer's bank disputes
    currency: str
    # Of `amount`, what was refundable when it opened and is held (not refundable) while open.
    held_amount: int = 0
    respond_by: datetime | None = None  # the deadline to answer it (evidence, acceptance)
    reason: str | None = None
    version: int = 0
    history: list[TransitionRecord] = Field(default_factory=list)

    class Settings:
        name = "disputes"
        indexes = [
            IndexModel([("dispute_id", ASCENDING)], name="dispute_id_unique", unique=True),
            IndexModel([("payment_id", ASCENDING)], name="payment_id"),
        ]


# Every change of a dispute is audited (paycore.kit.audit).
audited(Dispute.Settings.name, "dispute")
