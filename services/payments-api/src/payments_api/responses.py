"""What the API answers: one pydantic model per response shape (inside `{data, requestId}`).

The OpenAPI document takes its response schemas from these models. Instants are ISO-8601 as
Python writes them (`isoformat()`); amounts are integers in minor units (paise for INR).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from paycore.invoices.models import Invoice, InvoiceItem, InvoiceStatus
from paycore.payments.models import Payment, PaymentStatus, Transaction
from paycore.payments.service import FAILED_ATTEMPTS
from paycore.payments.states import CAPTURED
from paycore.reconciliation.models import (
    ItemStatus,
    MismatchKind,
)
from paycore.refunds.models import RefundSource, RefundStatus
from paycore.webhooks.models import WebhookStatus
from pydantic import BaseModel, ConfigDict, PlainSerializer

Instant = Annotated[datetime, PlainSerializer(lambda value: value.isoformat(), return_type=str)]


class Out(BaseModel):
    """A response shape; `Model.model_validate(document)` reads the fields it names."""

    model_config = ConfigDict(from_attributes=True)


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
    open_disputes: list[str]
    invoice_number: str | None
    cf_order_id: str | None
    payment_session_id: str | None
    checkout_url: str | None
    environment: str
    payment_method: str | None
    failure_reason: str | None
    customer_id: str
    metadata: dict[str, str]
    risk_flags: list[str]
    created_at: Instant
    updated_at: Instant

    @classmethod
    def of(cls, payment: Payment, *, checkout_base_url: str, environment: str) -> PaymentOut:
        session = payment.payment_session_id
        return cls(
            payment_id=payment.payment_id,
            order_id=payment.order_id,
            status=payment.status,
            amount=payment.amount,
            currency=payment.currency,
            captured_amount=payment.captured_amount,
            refunded_amount=payment.refunded_amount,
            refund_reserved_amount=payment.refund_reserved_amount,
            refundable_amount=payment.refundable_amount,
            disputed_amount=payment.disputed_amount,
            chargeback_amount=payment.chargeback_amount,
            open_disputes=payment.dispute_holds,
            invoice_number=payment.invoice_number,
            cf_order_id=payment.cf_order_id,
            payment_session_id=session,
            checkout_url=checkout_base_url + session if session else None,
            environment=environment,
            payment_method=payment.payment_method,
            failure_reason=payment.failure_reason,
            customer_id=payment.customer.customer_id,
            metadata=payment.metadata,
            risk_flags=payment.risk_flags,
            created_at=payment.created_at,
            updated_at=payment.updated_at,
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


class InvoiceOut(Out):
    """An invoice as its issuer sees it; `pay_url` is a fresh pay link (null when off)."""

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
    payment_id: str | None
    pay_url: str | None
    pay_link_expires_at: str | None
    overpaid: bool
    extra_payments: list[str]
    created_at: Instant
    updated_at: Instant

    @classmethod
    def of(
        cls, invoice: Invoice, *, pay_url: str | None = None, pay_link_expires_at: str | None = None
    ) -> InvoiceOut:
        return cls(
            invoice_number=invoice.invoice_number,
            status=invoice.status,
            currency=invoice.currency,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            client=ClientOut(name=invoice.client.name),
            items=invoice.items,
            tax_rate_bps=invoice.tax_rate_bps,
            subtotal=invoice.subtotal,
            tax=invoice.tax,
            total=invoice.total,
            notes=invoice.notes,
            payment_id=invoice.payment_id,
            pay_url=pay_url,
            pay_link_expires_at=pay_link_expires_at,
            overpaid=bool(invoice.extra_payments),
            extra_payments=invoice.extra_payments,
            created_at=invoice.created_at,
            updated_at=invoice.updated_at,
        )


class InvoicePage(Out):
    """Newest first; `next_cursor` asks for the next page."""

    items: list[InvoiceOut]
    next_cursor: str | None


class PayLinkInvoice(Out):
    """The invoice as the customer sees it: no contact details."""

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
    # The gateway needs a phone: without one on the invoice, the customer gives it.
    phone_required: bool


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
    last_attempt_failed: bool
    last_attempt_reason: str | None


class PayLinkView(Out):
    """What a pay link shows: the invoice and its current payment (null before the first)."""

    invoice: PayLinkInvoice
    payment: PayLinkPayment | None

    @classmethod
    def of(
        cls, invoice: Invoice, payment: Payment | None, last_attempt: Transaction | None
    ) -> PayLinkView:
        attempt_failed = (
            payment is not None
            and payment.status not in CAPTURED
            and last_attempt is not None
            and last_attempt.status in FAILED_ATTEMPTS
        )
        shown = PayLinkInvoice(
            invoice_number=invoice.invoice_number,
            status=invoice.status,
            currency=invoice.currency,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            client=ClientOut(name=invoice.client.name),
            items=invoice.items,
            tax_rate_bps=invoice.tax_rate_bps,
            subtotal=invoice.subtotal,
            tax=invoice.tax,
            total=invoice.total,
            notes=invoice.notes,
            phone_required=invoice.client.phone is None,
        )
        if payment is None:
            return cls(invoice=shown, payment=None)
        return cls(
            invoice=shown,
            payment=PayLinkPayment(
                order_id=payment.order_id,
                status=payment.status,
                amount=payment.amount,
                currency=payment.currency,
                captured_amount=payment.captured_amount,
                refunded_amount=payment.refunded_amount,
                payment_method=payment.payment_method,
                cf_payment_id=payment.cf_payment_id,
                failure_reason=payment.failure_reason,
                updated_at=payment.updated_at,
                last_attempt_failed=attempt_failed,
                last_attempt_reason=(
                    last_attempt.failure_reason if attempt_failed and last_attempt else None
                ),
            ),
        )


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
