"""Our side of the gateway boundary: amounts in minor units, statuses of our own.

Nothing here names a Cashfree field or status; `mapping.py` translates both ways.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class GatewayOrderStatus(StrEnum):
    OPEN = "OPEN"  # no successful payment yet
    PAID = "PAID"
    EXPIRED = "EXPIRED"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    UNKNOWN = "UNKNOWN"  # a value the gateway added after this code: never final


class GatewayAttemptStatus(StrEnum):
    """One payment attempt on an order."""

    SUCCEEDED = "SUCCEEDED"
    PENDING = "PENDING"
    NOT_ATTEMPTED = "NOT_ATTEMPTED"
    FAILED = "FAILED"
    ABANDONED = "ABANDONED"  # the customer dropped out (OTP, UPI PIN, 3DS)
    VOIDED = "VOIDED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"


class GatewayRefundStatus(StrEnum):
    PENDING = "PENDING"
    ON_HOLD = "ON_HOLD"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"


class GatewayRefundSpeed(StrEnum):
    STANDARD = "STANDARD"
    INSTANT = "INSTANT"


class GatewaySettlementStatus(StrEnum):
    SETTLED = "SETTLED"
    PENDING = "PENDING"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"


class GatewayReconEventType(StrEnum):
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"
    REFUND_REVERSAL = "REFUND_REVERSAL"
    DISPUTE = "DISPUTE"
    DISPUTE_REVERSAL = "DISPUTE_REVERSAL"
    CHARGEBACK = "CHARGEBACK"
    CHARGEBACK_REVERSAL = "CHARGEBACK_REVERSAL"
    ADJUSTMENT = "ADJUSTMENT"
    SETTLEMENT = "SETTLEMENT"
    UNKNOWN = "UNKNOWN"


class GatewayReconEventStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    PENDING = "PENDING"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"


class GatewayCustomer(_Record):
    customer_id: str
    phone: str
    email: str | None = None
    name: str | None = None


class GatewayOrderRequest(_Record):
    order_id: str  # ours ("ord_..."), also the gateway's order id
    amount_minor: int = Field(gt=0)
    currency: str
    customer: GatewayCustomer
    return_url: str | None = None
    notify_url: str | None = None
    note: str | None = None
    expires_at: datetime | None = None
    tags: dict[str, str] = {}


class GatewayOrder(_Record):
    order_id: str
    gateway_order_id: str | None
    amount_minor: int
    currency: str
    status: GatewayOrderStatus
    payment_session_id: str | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None


class GatewayAttemptError(_Record):
    code: str | None = None
    description: str | None = None
    reason: str | None = None
    source: str | None = None


class GatewayPayment(_Record):
    """One payment attempt as the gateway reports it."""

    order_id: str
    gateway_payment_id: str
    status: GatewayAttemptStatus
    amount_minor: int  # what the customer paid (payment_amount)
    currency: str
    # What the order asked (order_amount); None when the gateway did not say. Differs from
    # `amount_minor` when the customer paid a surcharge or an offer paid part of it.
    order_amount_minor: int | None = None
    is_captured: bool | None = None
    message: str | None = None
    bank_reference: str | None = None
    auth_id: str | None = None
    payment_group: str | None = None
    payment_method: str | None = None  # "upi", "card", "netbanking", ...
    initiated_at: datetime | None = None
    completed_at: datetime | None = None
    error: GatewayAttemptError | None = None


class GatewayRefundRequest(_Record):
    order_id: str
    refund_id: str  # ours ("rfd_..."), also the gateway's refund id
    amount_minor: int = Field(gt=0)
    currency: str
    note: str | None = None
    speed: GatewayRefundSpeed = GatewayRefundSpeed.STANDARD


class GatewayRefund(_Record):
    order_id: str
    refund_id: str
    gateway_refund_id: str | None
    gateway_payment_id: str | None
    amount_minor: int
    currency: str
    status: GatewayRefundStatus
    status_description: str | None = None
    arn: str | None = None  # bank reference, once processed
    created_at: datetime | None = None
    processed_at: datetime | None = None


class GatewaySettlement(_Record):
    gateway_settlement_id: str | None = None
    order_id: str | None = None
    gateway_payment_id: str | None = None
    currency: str
    status: GatewaySettlementStatus
    order_amount_minor: int | None = None
    service_charge_minor: int | None = None
    service_tax_minor: int | None = None
    settlement_amount_minor: int | None = None
    utr: str | None = None
    settled_at: datetime | None = None


class GatewayDisputeOutcome(StrEnum):
    OPEN = "OPEN"  # awaiting a response or a decision
    WON = "WON"  # closed in the merchant's favour: the money stays
    LOST = "LOST"  # closed against the merchant (lost or accepted): the money goes back
    UNKNOWN = "UNKNOWN"  # closed with a status this code does not know: treated as open


class GatewayDispute(_Record):
    """A dispute or chargeback the customer's bank raised against a payment."""

    dispute_id: str
    dispute_type: str | None  # DISPUTE, CHARGEBACK, RETRIEVAL, PRE_ARBITRATION, ARBITRATION
    status: str  # the gateway's own status, e.g. CHARGEBACK_MERCHANT_LOST
    outcome: GatewayDisputeOutcome
    amount_minor: int
    currency: str
    order_id: str
    gateway_payment_id: str | None = None
    respond_by: datetime | None = None
    reason: str | None = None
    updated_at: datetime | None = None


class GatewaySettlementPage(_Record):
    settlements: list[GatewaySettlement]
    cursor: str | None = None  # pass back to get the next page; None on the last page


class GatewayReconEntry(_Record):
    event_id: str | None = None
    event_type: GatewayReconEventType
    event_status: GatewayReconEventStatus
    is_credit: bool | None = None
    currency: str
    amount_minor: int | None = None
    settlement_amount_minor: int | None = None
    order_id: str | None = None
    gateway_payment_id: str | None = None
    refund_id: str | None = None
    gateway_settlement_id: str | None = None
    settlement_utr: str | None = None
    event_time: datetime | None = None


class GatewayReconPage(_Record):
    entries: list[GatewayReconEntry]
    cursor: str | None = None


class GatewaySettlementQuery(_Record):
    """Settlement ids, UTRs or a date range; `cursor` from the previous page."""

    start: datetime | None = None
    end: datetime | None = None
    settlement_ids: list[str] = []
    utrs: list[str] = []
    limit: int = Field(default=100, ge=10, le=1000)
    cursor: str | None = None


class GatewayReconQuery(_Record):
    start: datetime
    end: datetime
    limit: int = Field(default=100, ge=10, le=1000)
    cursor: str | None = None


_IDEMPOTENCY_NAMESPACE: Final = uuid.UUID("6f0b3c52-3f7e-4c1b-9d5e-2f1a8c7e4b10")


def idempotency_key(operation: str, entity_id: str) -> str:
    """A stable key (UUID, as Cashfree wants) from our own id: every retry sends the same one."""
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{operation}:{entity_id}"))
