from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from paycore.events.payloads import PaymentSummary
from paycore.kit.audit import audited
from paycore.kit.crypto import Sealed
from paycore.kit.events import OUTBOX_DUE_INDEX, OutboxEvent
from paycore.kit.mongo import TimestampedDocument
from paycore.kit.recheck import Recheck
from paycore.kit.state import TransitionRecord


class PaymentStatus(StrEnum):
    CREATED = "CREATED"
    PENDING = "PENDING"
    AUTHORIZING = "AUTHORIZING"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


def order_id_for(payment_id: str) -> str:
    """A payment's order id: the same body, so either names the other (`pay_X` / `ord_X`)."""
    return "ord_" + payment_id.removeprefix("pay_")


def payment_id_for(order_id: str) -> str | None:
    return "pay_" + order_id.removeprefix("ord_") if order_id.startswith("ord_") else None


class SettlementStatus(StrEnum):
    PENDING = "PENDING"
    SETTLED = "SETTLED"
    FAILED = "FAILED"
    REVERSED = "REVERSED"


class Settlement(BaseModel):
    status: SettlementStatus
    cf_settlement_id: str | None = None
    utr: str | None = None
    settled_amount: int | None = None  # minor units
    service_charge: int | None = None
    service_tax: int | None = None
    settled_at: datetime | None = None


class Reservation(BaseModel):
    """What one refund reserved of the payment (minor units). Kept after the reservation is
    settled or released: `Payment.refund_reservations` says which are still held."""

    refund_id: str
    amount: int


class Customer(BaseModel):
    """The payer. Email and phone are sealed at rest; their keyed hashes allow look-ups."""

    customer_id: str
    name: Sealed | None = None
    email: Sealed | None = None
    phone: Sealed
    email_hash: str | None = None
    phone_hash: str


class Payment(TimestampedDocument):
    key_field = "payment_id"

    payment_id: str  # pay_…
    order_id: str  # ord_…, also Cashfree's order_id
    user_id: str
    idempotency_key: str
    amount: int  # minor units
    currency: str
    status: PaymentStatus = PaymentStatus.CREATED
    version: int = 0
    cf_order_id: str | None = None
    payment_session_id: str | None = None
    cf_payment_id: str | None = None  # the successful attempt
    payment_method: str | None = None
    captured_amount: int = 0
    # What the customer paid on the captured attempt, and how it differs from `amount` (what
    # we asked): a surcharge the customer paid, or an offer that paid part of it. Minor units.
    payment_amount: int | None = None
    surcharge_amount: int = 0
    offer_amount: int = 0
    refunded_amount: int = 0
    refund_reserved_amount: int = 0
    # captured - refunded - reserved, kept as a field so one guarded update can reserve.
    refundable_amount: int = 0
    # Refunds holding a reservation; membership makes settle and release idempotent.
    refund_reservations: list[str] = Field(default_factory=list)
    # The amount of every reservation ever made, so a reservation left without its refund
    # (a crash between the two writes) is given back exactly, with no inference.
    reservations: list[Reservation] = Field(default_factory=list)
    # Refunds whose success was applied; membership makes a late success (a refund we held
    # FAILED or CANCELLED, its reservation already given back) apply once.
    settled_refunds: list[str] = Field(default_factory=list)
    # Refunds the bank sent back (recon's REFUND_REVERSAL), each restored once.
    reversed_refunds: list[str] = Field(default_factory=list)
    # Gateway attempts (cf_payment_id) whose failure was announced, each once.
    failed_attempts: list[str] = Field(default_factory=list)
    # Successful attempts beyond the captured one (money received twice), each alerted once.
    extra_captures: list[str] = Field(default_factory=list)
    # Open disputes hold their amount out of `refundable_amount` (`disputed_amount`); a lost
    # one moves it to `chargeback_amount` (money out), a won one gives it back. Membership
    # makes each step apply once.
    disputed_amount: int = 0
    chargeback_amount: int = 0
    dispute_holds: list[str] = Field(default_factory=list)
    settled_disputes: list[str] = Field(default_factory=list)
    last_refund_status: str | None = None  # SUCCESS, FAILED or CANCELLED: the invoice shows it
    invoice_number: str | None = None
    customer: Customer
    metadata: dict[str, str] = Field(default_factory=dict)
    failure_reason: str | None = None
    # The gateway answered 404 for our order (seen by the janitor); FAILED only after a grace.
    order_missing_since: datetime | None = None
    settlement: Settlement | None = None
    is_reconciled: bool = False
    # When the janitor next asks the gateway about this payment's order (paycore.kit.recheck);
    # only open and closed-unpaid payments are due. Changed without a version bump: it is the
    # janitor's bookkeeping, never the payment's state.
    recheck: Recheck = Field(default_factory=Recheck)
    retry_count: int = 0
    # SHA-256 of the creating request: a retry with the same key but another body is refused
    # even when the idempotency cache has lost the key.
    request_fingerprint: str | None = None
    # Fraud screening said "review": allowed, flagged for a human (reasons).
    risk_flags: list[str] = Field(default_factory=list)
    history: list[TransitionRecord] = Field(default_factory=list)
    outbox: list[OutboxEvent] = Field(default_factory=list)

    class Settings:
        name = "payments"
        indexes = [
            IndexModel([("payment_id", ASCENDING)], name="payment_id_unique", unique=True),
            IndexModel([("order_id", ASCENDING)], name="order_id_unique", unique=True),
            IndexModel(
                [("user_id", ASCENDING), ("idempotency_key", ASCENDING)],
                name="user_idempotency_key_unique",
                unique=True,
            ),
            IndexModel(
                [("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_created_at"
            ),
            IndexModel([("status", ASCENDING), ("updated_at", ASCENDING)], name="status_updated"),
            IndexModel([("recheck.due_at", ASCENDING)], name="recheck_due"),
            OUTBOX_DUE_INDEX,
        ]

    def reserved_for(self, refund_id: str) -> int | None:
        """What `refund_id` reserved (minor units); None if no amount was stored for it."""
        amounts = [r.amount for r in self.reservations if r.refund_id == refund_id]
        return amounts[-1] if amounts else None

    def summary(self) -> dict[str, Any]:
        """What events say about a payment (never PII): the fields of `PaymentSummary`."""
        return PaymentSummary.fields_of(self)


class Transaction(TimestampedDocument):
    """One gateway payment attempt, with the gateway's raw answer."""

    key_field = "cf_payment_id"

    cf_payment_id: str
    payment_id: str
    order_id: str
    status: str
    amount: int  # payment_amount: what the customer paid on this attempt
    currency: str
    order_amount: int | None = None  # what the order asked
    payment_method: str | None = None
    payment_group: str | None = None
    bank_reference: str | None = None
    failure_reason: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "transactions"
        indexes = [
            IndexModel([("cf_payment_id", ASCENDING)], name="cf_payment_id_unique", unique=True),
            IndexModel([("payment_id", ASCENDING)], name="payment_id"),
        ]


# Every change of a payment is audited (paycore.kit.audit).
audited(Payment.Settings.name, "payment")


@dataclass(frozen=True)
class HistoryQuery:
    """A page of a user's payments: `before_id` is the cursor (the last payment id seen)."""

    statuses: tuple[PaymentStatus, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    before_id: str | None = None
    limit: int = 20
