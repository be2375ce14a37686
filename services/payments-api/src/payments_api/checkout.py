"""Opening a payment for the caller: fraud screening, our record, the gateway order, audit.

Shared by `POST /payments/create` and `POST /invoices/{number}/pay`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from paycore.auth.tokens import Principal
from paycore.fraud.models import FraudDecision
from paycore.fraud.screening import Attempt
from paycore.gateway.errors import GatewayConflict, GatewayNotFound
from paycore.gateway.schemas import GatewayOrder, GatewayOrderStatus, idempotency_key
from paycore.invoices.errors import (
    InvoiceAlreadyPaid,
    InvoiceAmountMismatch,
    InvoicePaymentInProgress,
)
from paycore.invoices.models import InvoiceStatus
from paycore.kit.errors import ValidationFailed
from paycore.kit.state import Evidence
from paycore.payments.creation import CustomerDetails, NewPayment
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.states import CAPTURED, OPEN
from paycore.payments.verification import verify_with_gateway
from starlette.requests import Request

from payments_api.api import Api

DEVICE_HEADER = "x-device-fingerprint"


class CustomerPhoneRequired(ValidationFailed):
    """The invoice has no client phone; send customer_phone (the gateway requires one)."""

    code = "customer_phone_required"


@dataclass(frozen=True)
class Opened:
    payment: Payment
    created: bool


async def open_payment(
    api: Api, request: Request, principal: Principal, new: NewPayment, *, return_url: str | None
) -> Opened:
    """Screens, inserts and opens a new payment. If an earlier request with the same key made
    one, the insert hits the unique index and that payment is resumed instead."""
    creator = api.creator
    email_hash = api.cipher.lookup_hash(new.customer.email) if new.customer.email else None
    assessment = await api.fraud.screen(
        Attempt(
            user_id=principal.user_id,
            amount=new.amount,
            currency=new.currency,
            ip=api.client_ip(request),
            email_hash=email_hash,
            device=(request.headers.get(DEVICE_HEADER) or "")[:200] or None,
            payment_id=new.payment_id,
        )
    )
    if assessment.decision == FraudDecision.REVIEW:
        new = replace(new, risk_flags=assessment.reasons)
    started = await creator.start(new, looked_up=True)
    if not started.created:
        return await resume_payment(api, request, principal, started.payment, return_url)
    payment = await _attach_to_invoice(api, started.payment)
    payment = await creator.open_order(payment, return_url=return_url)
    await api.audit.append(
        api.actor(request, principal),
        "payment.create",
        "payment",
        payment.payment_id,
        after=_audited(payment),
    )
    return Opened(payment, created=True)


async def resume_payment(
    api: Api, request: Request, principal: Principal, payment: Payment, return_url: str | None
) -> Opened:
    """The payment an earlier request with the same key made, finished if it stopped short."""
    if payment.status != PaymentStatus.CREATED:
        return Opened(payment, created=False)
    # An earlier request stopped between our insert and the gateway's answer: finish it.
    opened = await api.creator.open_order(payment, return_url=return_url)
    await api.audit.append(
        api.actor(request, principal),
        "payment.create",
        "payment",
        opened.payment_id,
        before=_audited(payment),
        after=_audited(opened),
    )
    return Opened(opened, created=False)


async def _attach_to_invoice(api: Api, payment: Payment) -> Payment:
    if payment.invoice_number is None:
        return payment
    invoice = await api.invoices.get_for(payment.user_id, payment.invoice_number)
    if not await api.invoices.attach_payment(invoice, payment.payment_id, invoice.payment_id):
        # Another payment was attached meanwhile: ours never reached the gateway; drop it.
        await api.payments.transition(
            payment.payment_id,
            PaymentStatus.CANCELLED,
            Evidence(source="api", detail={"reason": "invoice_paid_by_another_payment"}),
            keep_refused=True,
            expected=frozenset({PaymentStatus.CREATED}),
        )
        raise InvoicePaymentInProgress(invoice_number=invoice.invoice_number)
    return payment


async def invoice_payment(
    api: Api,
    principal: Principal,
    invoice_number: str,
    *,
    amount: int | None = None,
    currency: str | None = None,
    customer: CustomerDetails | None = None,
    phone: str | None = None,
) -> NewPaymentFields | StillOpen:
    """What a new payment of this invoice must be, or the invoice's payment still open (its
    checkout is still usable, so a second pay request gets it instead of a second order)."""
    invoice = await api.invoices.get_for(principal.user_id, invoice_number)
    if invoice.status != InvoiceStatus.UNPAID:
        raise InvoiceAlreadyPaid(invoice_number=invoice_number, status=invoice.status.value)
    if amount is not None and (amount, currency) != (invoice.total, invoice.currency):
        raise InvoiceAmountMismatch(
            invoice_number=invoice_number, total=invoice.total, currency=invoice.currency
        )
    if invoice.payment_id is not None:
        current = await api.payments.repository.get(invoice.payment_id)
        if current is not None and current.status in CAPTURED:
            raise InvoiceAlreadyPaid(invoice_number=invoice_number)
        payable = current is not None and current.status != PaymentStatus.CREATED
        if payable and current is not None and await _order_still_payable(api, current):
            return StillOpen(current)
    if customer is None:
        contact = api.invoices.contact(invoice)
        phone = phone or contact.phone
        if phone is None:
            raise CustomerPhoneRequired(invoice_number=invoice_number)
        # The gateway wants names of 3+ characters; a shorter one is left out.
        name = contact.name if 3 <= len(contact.name) <= 100 else None
        customer = CustomerDetails(phone=phone, name=name, email=contact.email)
    return NewPaymentFields(invoice.total, invoice.currency, customer)


async def _order_still_payable(api: Api, payment: Payment) -> bool:
    """True if the payment's Cashfree order can still be paid (its checkout is reused). False
    only once the order is closed for good (expired or terminated: terminated here first if
    it was still payable), so a new order never opens while an old one can still take money.
    Raises `InvoiceAlreadyPaid` if the old order was paid after all (the success is applied),
    and `InvoicePaymentInProgress` while a termination is still pending."""
    if payment.status == PaymentStatus.FAILED and payment.cf_order_id is None:
        return False  # the gateway refused to create the order: nothing can pay it
    try:
        order = await api.gateway.get_order(payment.order_id)
    except GatewayNotFound:
        if payment.cf_order_id is None:
            return False  # never reached the gateway
        # We hold an order the gateway cannot find (yet): unknown, so no second order now.
        raise InvoicePaymentInProgress(invoice_number=payment.invoice_number) from None
    if order.status == GatewayOrderStatus.OPEN and payment.status in OPEN:
        return True
    if order.status == GatewayOrderStatus.OPEN:
        # We hold the payment closed, yet its order still takes money: terminate it first.
        order = await _terminate(api, payment)
    if order.status == GatewayOrderStatus.PAID:
        paid = await verify_with_gateway(api.gateway, api.payments, payment, "api")
        raise InvoiceAlreadyPaid(invoice_number=payment.invoice_number, payment_id=paid.payment_id)
    if order.status in (GatewayOrderStatus.EXPIRED, GatewayOrderStatus.TERMINATED):
        await verify_with_gateway(api.gateway, api.payments, payment, "api")  # closes ours
        return False
    raise InvoicePaymentInProgress(invoice_number=payment.invoice_number)


async def _terminate(api: Api, payment: Payment) -> GatewayOrder:
    try:
        return await api.gateway.terminate_order(
            payment.order_id, idempotency_key=idempotency_key("terminate_order", payment.order_id)
        )
    except GatewayConflict:
        # Paid or expired meanwhile (Cashfree refuses to terminate either): see which.
        return await api.gateway.get_order(payment.order_id)


@dataclass(frozen=True)
class StillOpen:
    payment: Payment


@dataclass(frozen=True)
class NewPaymentFields:
    amount: int
    currency: str
    customer: CustomerDetails


def _audited(payment: Payment) -> dict[str, object]:
    return {
        "status": payment.status.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "order_id": payment.order_id,
        "cf_order_id": payment.cf_order_id,
        "invoice_number": payment.invoice_number,
        "risk_flags": payment.risk_flags,
    }
