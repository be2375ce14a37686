"""The payload (`data`) of every event, as pydantic models.

Amounts are integers in minor units (paise); statuses are our own enum values as strings;
timestamps travel as ISO 8601 strings. The models describe the wire, they do not change it: an
event is stored and published as its publisher built it, and a model allows the extra fields a
publisher adds for one case (`extra="allow"`) so that checking it never drops anything.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    @classmethod
    def fields_of(cls, source: object) -> dict[str, Any]:
        """This model's fields, in its order, read from `source`'s attributes of the same names
        as the wire carries them: enums as their values, datetimes as ISO 8601 strings."""
        return {name: _wire(getattr(source, name)) for name in cls.model_fields}


def _wire(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    return value.isoformat() if isinstance(value, datetime) else value


# --- payments -------------------------------------------------------------------------------


class PaymentSummary(Payload):
    """What every payment event says about the payment (never PII): `Payment.summary()`."""

    payment_id: str
    order_id: str
    user_id: str
    amount: int  # what the order asks, minor units
    currency: str
    status: str  # the payment's status once this event applies
    invoice_number: str | None = None
    cf_payment_id: str | None = None  # the captured gateway attempt
    refunded_amount: int = 0


class PaymentChanged(PaymentSummary):
    """The payment entered `status` (from `previous_status`), with what changed with it."""

    previous_status: str | None = None
    payment_method: str | None = None
    captured_amount: int | None = None
    refundable_amount: int | None = None
    payment_amount: int | None = None  # what the customer paid
    surcharge_amount: int | None = None
    offer_amount: int | None = None
    failure_reason: str | None = None
    # Set when the event announces one failed attempt (the payment itself stays payable).
    attempt_status: str | None = None


class AttemptFailed(PaymentSummary):
    """One gateway attempt failed; the payment (its order) stays payable."""

    cf_payment_id: str | None = None  # the failed attempt
    attempt_status: str  # FAILED | ABANDONED | VOIDED | CANCELLED
    failure_reason: str | None = None
    payment_method: str | None = None


class ExtraCapture(PaymentSummary):
    """A second successful attempt on an order already captured: money received twice."""

    extra_cf_payment_id: str
    extra_amount: int


class SettlementRecord(Payload):
    status: str  # PENDING | SETTLED | FAILED | REVERSED
    cf_settlement_id: str | None = None
    utr: str | None = None
    settled_amount: int | None = None
    service_charge: int | None = None
    service_tax: int | None = None
    settled_at: str | None = None  # ISO 8601


class PaymentSettlement(PaymentSummary):
    """A settlement stage recorded on the payment."""

    settlement: SettlementRecord


class PaymentDispute(PaymentSummary):
    """A dispute or chargeback opened (held), or closed (won: released; lost: paid out)."""

    dispute_id: str
    dispute_status: str  # the gateway's own status
    dispute_amount: int
    held_amount: int
    respond_by: str | None = None


class RefundReleased(PaymentSummary):
    """A refund's reservation went back to refundable (the refund failed or was cancelled)."""

    refund_id: str
    refund_status: str


# --- refunds --------------------------------------------------------------------------------


class RefundChanged(Payload):
    """The refund entered `status`: `Refund.summary()`."""

    refund_id: str
    payment_id: str
    order_id: str
    user_id: str
    amount: int  # minor units
    currency: str
    status: str
    reason: str | None = None
    source: str  # API | DASHBOARD | AUTO | …
    created_at: str


class AutoRefund(Payload):
    """Cashfree refunded an attempt on its own."""

    order_id: str
    payment_id: str
    refund_id: str
    cf_refund_id: str | None = None
    cf_payment_id: str | None = None
    amount: int
    currency: str
    refund_status: str
    reason: str | None = None
    captured_attempt: bool  # of our captured attempt (else of a duplicate capture)


# --- invoices, fraud, alerts ----------------------------------------------------------------


class InvoiceGenerated(Payload):
    """An invoice to email (no client contact details: the worker reads them)."""

    invoice_number: str
    user_id: str
    currency: str
    total: int
    due_date: str
    status: str


class FraudSignalRaised(Payload):
    signal_id: str
    decision: str  # FLAG | BLOCK
    reasons: list[str]
    user_id: str
    payment_id: str | None = None
    amount: int | None = None
    currency: str | None = None


class AdminAlertRaised(Payload):
    """An admin alert, once per incident; its other fields are the incident's facts."""

    alert: str  # the kind, e.g. webhook_amount_mismatch
    severity: str  # warning | high | critical
    alert_id: str


# --- webhooks -------------------------------------------------------------------------------


class WebhookReceived(Payload):
    """A Cashfree webhook stored (sealed) as log `log_id`: the processor applies it."""

    log_id: str
    event_id: str | None = None
    event_type: str


class WebhookFailure(Payload):
    """A processing attempt of log `log_id` failed (`attempt` counts from 1)."""

    log_id: str
    event_type: str
    attempt: int
    error: str


class WebhookFailureCounted(Payload):
    log_id: str
    event_type: str
    attempt: int
    error_type: str
