"""What the API answers: one pydantic model per response shape (inside `{data, requestId}`).

The OpenAPI document takes its response schemas from these models. Instants are ISO-8601 as
Python writes them (`isoformat()`); amounts are integers in minor units (paise for INR).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from paycore.invoices.models import Invoice, InvoiceItem, InvoiceStatus
from paycore.payments.attempts import FAILED_ATTEMPTS
from paycore.payments.models import Payment, PaymentStatus, Transaction
from paycore.payments.states import CAPTURED
from paycore.reconciliation.models import (
    ItemStatus,
    MismatchKind,
)
from paycore.refunds.models import RefundSource, RefundStatus
from paycore.webhooks.models import WebhookStatus
from pydantic import AliasPath, BaseModel, ConfigDict, Field, PlainSerializer

Instant = Annotated[datetime, PlainSerializer(lambda value: value.isoformat(), return_type=str)]


class Out(BaseModel):
    """A response shape; `Model.model_validate(document)` reads the fields it names."""

    # A default marks what the document does not hold (filled in by `of`); the answer always
    # has every field. By name too: the tests read every answer back into its model.
    model_config = ConfigDict(
        from_attributes=True,
        populate_by_name=True,
        json_schema_serialization_defaults_required=True,
    )


class PaymentOut(Out):
    """A payment as its owner sees it, with what checkout needs."""

    payment_id: str
    order_id: str
    status: PaymentStatus
    amount: int
    currency: str
    captured_amount: int
    refunded_amount: int
    refund_reserved_amount: int
    refundable_amount: int
    # Held by open disputes (not refundable), and taken back by lost ones.
    disputed_amount: int
    chargeback_amount: int
    open_disputes: list[str] = Field(validation_alias="dispute_holds")
    invoice_number: str | None
    cf_order_id: str | None
    payment_session_id: str | None
    checkout_url: str | None = None  # Cashfree's hosted checkout for the session
    environment: str = ""  # sandbox | production
    payment_method: str | None
    failure_reason: str | None
    customer_id: str = Field(validation_alias=AliasPath("customer", "customer_id"))
    metadata: dict[str, str]
    risk_flags: list[str]
    created_at: Instant
    updated_at: Instant

    @classmethod
    def of(cls, payment: Payment, *, checkout_base_url: str, environment: str) -> PaymentOut:
        session = payment.payment_session_id
        return cls.model_validate(payment).model_copy(
            update={
                "checkout_url": checkout_base_url + session if session else None,
                "environment": environment,
            }
        )


class PaymentPage(Out):
    """Newest first; `next_cursor` (the last payment id) asks for the next page."""

    items: list[PaymentOut]
    next_cursor: str | None


class PaymentStatusOut(Out):
    payment_id: str
    order_id: str
    status: PaymentStatus
    amount: int
    currency: str
    updated_at: Instant


class HistoryEntry(Out):
    """One state change of a payment, with its evidence (`ignored`: it changed nothing)."""

    from_status: str | None
    to_status: str
    at: Instant
    source: str
    reference: str | None
    note: str | None
    ignored: bool


class AttemptOut(Out):
    """One payment attempt Cashfree reported on the order."""

    cf_payment_id: str
    status: str
    amount: int
    currency: str
    payment_method: str | None
    failure_reason: str | None
    bank_reference: str | None
    created_at: Instant


class TimelineOut(Out):
    """State changes oldest first, and every attempt on the order oldest first."""

    history: list[HistoryEntry]
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, payment: Payment, attempts: list[Transaction]) -> TimelineOut:
        return cls(
            history=[
                HistoryEntry(
                    from_status=record.from_status,
                    to_status=record.to_status,
                    at=record.at,
                    source=record.evidence.source,
                    reference=record.evidence.reference,
                    note=record.note,
                    ignored=record.ignored,
                )
                for record in payment.history
            ],
            attempts=[AttemptOut.model_validate(attempt) for attempt in attempts],
        )


class RefundOut(Out):
    refund_id: str
    payment_id: str
    order_id: str
    status: RefundStatus
    amount: int
    currency: str
    reason: str | None
    source: RefundSource
    arn: str | None
    failure_reason: str | None
    created_at: Instant
    updated_at: Instant
    completed_at: Instant | None


class RefundList(Out):
    items: list[RefundOut]


class ClientOut(Out):
    """The billed client's name; sealed contact details stay sealed."""

    name: str


class InvoiceShown(Out):
    """What anyone shown an invoice sees: no contact details."""

    invoice_number: str
    status: InvoiceStatus
    currency: str
    issue_date: date
    due_date: date
    client: ClientOut
    items: list[InvoiceItem]
    tax_rate_bps: int
    subtotal: int
    tax: int
    total: int
    notes: str | None


class InvoiceOut(InvoiceShown):
    """An invoice as its issuer sees it; `pay_url` is a fresh pay link (null when off)."""

    payment_id: str | None
    pay_url: str | None = None
    pay_link_expires_at: str | None = None
    overpaid: bool = False  # paid more than once: the extra payments are refunded
    extra_payments: list[str]
    created_at: Instant
    updated_at: Instant

    @classmethod
    def of(
        cls, invoice: Invoice, *, pay_url: str | None = None, pay_link_expires_at: str | None = None
    ) -> InvoiceOut:
        return cls.model_validate(invoice).model_copy(
            update={
                "pay_url": pay_url,
                "pay_link_expires_at": pay_link_expires_at,
                "overpaid": bool(invoice.extra_payments),
            }
        )


class InvoicePage(Out):
    """Newest first; `next_cursor` asks for the next page."""

    items: list[InvoiceOut]
    next_cursor: str | None


class PayLinkInvoice(InvoiceShown):
    # The gateway needs a phone: without one on the invoice, the customer gives it.
    phone_required: bool = False


class PayLinkPayment(Out):
    """The invoice's current payment, and whether its latest attempt failed (the order stays
    payable: a retry pays the same order)."""

    order_id: str
    status: PaymentStatus
    amount: int
    currency: str
    captured_amount: int
    refunded_amount: int
    payment_method: str | None
    cf_payment_id: str | None
    failure_reason: str | None
    updated_at: Instant
    last_attempt_failed: bool = False
    last_attempt_reason: str | None = None


class PayLinkView(Out):
    """What a pay link shows: the invoice and its current payment (null before the first)."""

    invoice: PayLinkInvoice
    payment: PayLinkPayment | None

    @classmethod
    def of(
        cls, invoice: Invoice, payment: Payment | None, last_attempt: Transaction | None
    ) -> PayLinkView:
        shown = PayLinkInvoice.model_validate(invoice).model_copy(
            update={"phone_required": invoice.client.phone is None}
        )
        if payment is None:
            return cls(invoice=shown, payment=None)
        failed = (
            payment.status not in CAPTURED
            and last_attempt is not None
            and last_attempt.status in FAILED_ATTEMPTS
        )
        reason = last_attempt.failure_reason if failed and last_attempt else None
        state = PayLinkPayment.model_validate(payment).model_copy(
            update={"last_attempt_failed": failed, "last_attempt_reason": reason}
        )
        return cls(invoice=shown, payment=state)


class ReconciliationRunOut(Out):
    run_id: str
    schedule: str  # hourly | daily | manual
    status: str  # REQUESTED | RUNNING | DONE | FAILED
    window_start: Instant
    window_end: Instant
    checked: int  # orders compared
    asked_gateway: int  # of them, asked about one by one (the reports left a doubt)
    report_pages: int  # pages of Cashfree's reports read
    matched: int
    mismatched: int
    healed: int
    closed: int
    error: str | None
    started_at: Instant
    finished_at: Instant | None


class ReconciliationItemOut(Out):
    """A break: `item_id` is `<kind>:<order or refund id>`, the same across runs; `detail`
    gives each differing field as `{ours, gateway}`."""

    item_id: str
    run_id: str
    last_run_id: str | None
    kind: MismatchKind
    status: ItemStatus
    order_id: str | None
    payment_id: str | None
    refund_id: str | None
    detail: dict[str, Any]
    note: str | None
    resolved_by: str | None
    created_at: Instant
    last_seen_at: Instant
    closed_at: Instant | None


class ReconciliationOut(Out):
    """The latest runs and the items they found."""

    runs: list[ReconciliationRunOut]
    items: list[ReconciliationItemOut]


class ReconciliationItemList(Out):
    items: list[ReconciliationItemOut]


class DeadLetterOut(Out):
    """A dead-lettered webhook: what it is about and why it failed; never its body."""

    log_id: str
    event_type: str
    status: WebhookStatus
    attempts: int
    reason: str | None
    last_error: str | None
    order_id: str | None
    payment_id: str | None
    refund_id: str | None
    received_at: Instant


class DeadLetterList(Out):
    items: list[DeadLetterOut]
