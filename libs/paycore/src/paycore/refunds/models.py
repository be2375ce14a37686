from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field
from pymongo import ASCENDING, IndexModel

from paycore.events.payloads import RefundChanged
from paycore.kit.audit import audited
from paycore.kit.events import OUTBOX_DUE_INDEX, OutboxEvent
from paycore.kit.mongo import TimestampedDocument
from paycore.kit.recheck import Recheck
from paycore.kit.state import TransitionRecord


class RefundStatus(StrEnum):
    INITIATED = "INITIATED"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    REVERSED = "REVERSED"


class RefundSource(StrEnum):
    API = "API"  # requested through our API
    GATEWAY = "GATEWAY"  # made in the gateway's dashboard; we learnt of it by webhook
    AUTO = "AUTO"  # the gateway's own auto-refund


class Refund(TimestampedDocument):
    key_field = "refund_id"

    refund_id: str  # rfd_…, also the gateway's refund_id
    payment_id: str
    order_id: str
    user_id: str
    idempotency_key: str
    amount: int  # minor units
    currency: str
    reason: str | None = None
    source: RefundSource = RefundSource.API
    # The gateway attempt refunded (an auto-refund can return a second, duplicate capture).
    cf_payment_id: str | None = None
    # False: the refunded money was never in our captured amount (a duplicate capture), so
    # the refund does not count against what is refundable.
    counts_against_payment: bool = True
    # False: recorded without a reservation on the payment (a gateway-made refund larger than
    # what was refundable); its success then counts directly, once.
    reserved: bool = True
    status: RefundStatus = RefundStatus.INITIATED
    version: int = 0
    cf_refund_id: str | None = None
    gateway_status: str | None = None  # the last status the gateway reported (PENDING, ONHOLD…)
    arn: str | None = None
    failure_reason: str | None = None
    submit_attempts: int = 0
    # When the poller next asks the gateway about a refund whose outcome is unknown
    # (paycore.kit.recheck); None until its first poll, which comes `after` it was last touched.
    recheck: Recheck | None = None
    request_fingerprint: str | None = None  # of the creating API request (idempotency backstop)
    history: list[TransitionRecord] = Field(default_factory=list)
    outbox: list[OutboxEvent] = Field(default_factory=list)
    completed_at: datetime | None = None

    class Settings:
        name = "refunds"
        indexes = [
            IndexModel([("refund_id", ASCENDING)], name="refund_id_unique", unique=True),
            IndexModel(
                [("user_id", ASCENDING), ("idempotency_key", ASCENDING)],
                name="user_idempotency_key_unique",
                unique=True,
            ),
            IndexModel([("payment_id", ASCENDING)], name="payment_id"),
            IndexModel(
                [("order_id", ASCENDING), ("cf_refund_id", ASCENDING)], name="order_cf_refund"
            ),
            IndexModel([("status", ASCENDING), ("updated_at", ASCENDING)], name="status_updated"),
            OUTBOX_DUE_INDEX,
        ]

    def summary(self) -> dict[str, Any]:
        """What refund events say about the refund: the fields of `RefundChanged`."""
        return RefundChanged.fields_of(self)


# Every change of a refund is audited (paycore.kit.audit).
audited(Refund.Settings.name, "refund")
