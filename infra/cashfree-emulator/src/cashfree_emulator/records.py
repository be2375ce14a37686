"""The emulator's in-memory records: what Cashfree would hold for each merchant."""

import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from cashfree_emulator.wire import JsonObject


@dataclass
class Order:
    app_id: str
    order_id: str
    cf_order_id: str
    payment_session_id: str
    amount: Decimal
    currency: str
    status: str
    customer_details: JsonObject
    order_meta: JsonObject
    order_note: str | None
    order_tags: dict[str, str] | None
    order_splits: list[Any]
    created_at: datetime
    expires_at: datetime

    @property
    def return_url(self) -> str | None:
        value = self.order_meta.get("return_url")
        return value if isinstance(value, str) else None

    @property
    def notify_url(self) -> str | None:
        value = self.order_meta.get("notify_url")
        return value if isinstance(value, str) else None


@dataclass
class Payment:
    app_id: str
    order_id: str
    cf_payment_id: str
    amount: Decimal
    currency: str
    status: str
    payment_group: str
    payment_method: JsonObject
    payment_message: str
    payment_time: datetime
    completion_time: datetime | None = None
    bank_reference: str | None = None
    auth_id: str | None = None
    error_details: JsonObject | None = None


@dataclass
class Refund:
    app_id: str
    order_id: str
    refund_id: str
    cf_refund_id: str
    cf_payment_id: str
    amount: Decimal
    currency: str
    note: str | None
    requested_speed: str
    refund_type: str
    status: str
    status_description: str
    created_at: datetime
    # The status it will reach when it resolves (fault or sandbox `refund_note` convention).
    resolve_to: str
    # What the create call sent, to tell a retry from a conflicting reuse of the refund_id.
    request_fingerprint: str = ""
    refund_splits: list[Any] = field(default_factory=list)
    refund_arn: str | None = None
    processed_at: datetime | None = None
    reason: str | None = None
    # A successful refund the bank sent back (closed account, wrong details): recon then
    # shows a REFUND_REVERSAL credit; the refund itself stays SUCCESS.
    reversed_at: datetime | None = None
    # When it was made, to the sub-second (`created_at` is whole seconds, as Cashfree shows).
    created_monotonic: float = field(default_factory=time.monotonic)


@dataclass
class Dispute:
    """A customer's dispute or chargeback against a payment (fact sheet: DISPUTE_* webhooks)."""

    app_id: str
    dispute_id: str
    order_id: str
    cf_payment_id: str
    dispute_type: str  # DISPUTE | CHARGEBACK | RETRIEVAL | PRE_ARBITRATION | ARBITRATION
    amount: Decimal
    currency: str
    status: str  # e.g. DISPUTE_CREATED, CHARGEBACK_MERCHANT_WON
    reason_code: str
    reason_description: str
    respond_by: datetime
    created_at: datetime
    updated_at: datetime


@dataclass
class Settlement:
    app_id: str
    cf_settlement_id: int
    order_id: str
    cf_payment_id: str
    currency: str
    order_amount: Decimal
    payment_amount: Decimal
    service_charge: Decimal
    service_tax: Decimal
    settlement_amount: Decimal
    utr: str
    status: str
    payment_time: datetime
    initiated_on: datetime
    settled_on: datetime | None
    transfer_id: int


@dataclass
class IdempotentReply:
    operation: str
    fingerprint: str
    status: int
    body: str
