"""Checkout: opening a payment for a caller, plain or for an invoice, with everything that goes
with it: fraud screening (a flagged payment carries its reasons, a blocked one is refused), our
record, the invoice attachment, the gateway order and the audit record.

The payments-api's `POST /payments/create`, `POST /invoices/{number}/pay` and the pay-link page
all come here; the handler only authenticates, parses and shapes the answer. Idempotent per
(user, Idempotency-Key): a repeat resumes the payment the first request made (finishing it if
that request stopped before the gateway answered), and a repeat with another body raises
`IdempotencyKeyReused` (422).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from paycore.audit.models import Actor
from paycore.audit.trail import AuditTrail
from paycore.fraud.models import FraudDecision
from paycore.fraud.screening import Attempt, FraudScreen
from paycore.gateway.errors import GatewayConflict, GatewayNotFound
from paycore.gateway.schemas import GatewayOrder, GatewayOrderStatus, idempotency_key
from paycore.invoices.errors import (
    CustomerPhoneRequired,
    InvoiceAlreadyPaid,
    InvoiceAmountMismatch,
    InvoicePaymentInProgress,
)
from paycore.invoices.models import InvoiceStatus
from paycore.invoices.service import InvoiceService
from paycore.kit.state import Evidence
from paycore.payments.creation import CustomerDetails, NewPayment, PaymentCreator, audited
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.states import CAPTURED, OPEN
from paycore.payments.verification import verify_with_gateway


@dataclass(frozen=True)
class Caller:
    """Who asks: the payment's owner, the actor audited, and what the fraud screen counts."""

    user_id: str
    actor: Actor
    ip: str | None = None
    device: str | None = None  # a device fingerprint header, if the client sent one


class Checked(StrEnum):
    CREATED = "created"  # a new payment and order
    RESUMED = "resumed"  # the payment an earlier request with the same key made
    STILL_OPEN = "still_open"  # the invoice's payment, whose checkout is still usable


@dataclass(frozen=True)
class CheckoutResult:
    payment: Payment
    outcome: Checked


@dataclass(frozen=True)
class PaymentOrder:
    """A plain payment as asked: amounts in minor units."""

    amount: int
    currency: str
    customer: CustomerDetails
    invoice_number: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    return_url: str | None = None


# The merchant's limits on one payment (currency allowed, maximum, minimum): raises a
# `ValidationFailed` (400) before anything is stored.
AmountCheck = Callable[[int, str], None]


class Checkout:
    def __init__(
        self,
        creator: PaymentCreator,
        invoices: InvoiceService,
        fraud: FraudScreen,
        *,
        check_amount: AmountCheck,
        audit: AuditTrail | None = None,
    ) -> None:
        self.creator = creator
        self.payments = creator.payments
        self.gateway = creator.gateway
        self.invoices = invoices
        self.fraud = fraud
        self.check_amount = check_amount
        self.audit = audit or AuditTrail()

    async def create_payment(
        self, caller: Caller, key: str, request_fingerprint: str, order: PaymentOrder
    ) -> CheckoutResult:
        """A payment of `order.amount`; with an `invoice_number`, of that invoice (the amount
        must be its total: `InvoiceAmountMismatch`), or its payment still open. The handler
        checks the amount against `check_amount` before it runs this idempotently."""
        if order.invoice_number is not None:
            return await self._pay_invoice(
                caller,
                key,
                request_fingerprint,
                order.invoice_number,
                order.return_url,
                order=order,
            )
        # No look-up first for a plain payment: the insert meets the (user, key) unique index
        # if an earlier request made it, and the creator then resumes that one.
        return await self._open(caller, key, request_fingerprint, order)

    async def pay_invoice(
        self,
        caller: Caller,
        key: str,
        request_fingerprint: str,
        invoice_number: str,
        *,
        phone: str | None = None,
        return_url: str | None = None,
    ) -> CheckoutResult:
        """A payment of the invoice's total for its client (`phone` when the invoice has none:
        else `CustomerPhoneRequired`), or its payment still open."""
        return await self._pay_invoice(
            caller, key, request_fingerprint, invoice_number, return_url, phone=phone
        )

    async def _pay_invoice(
        self,
        caller: Caller,
        key: str,
        request_fingerprint: str,
        invoice_number: str,
        return_url: str | None,
        *,
        order: PaymentOrder | None = None,
        phone: str | None = None,
    ) -> CheckoutResult:
        """A new payment of the invoice's total, the one an earlier request with the same key
        made, or the invoice's payment still open. `order`: the payment as the client asked it
        (its customer pays, its metadata is kept); else the invoice's client pays."""
        existing = await self.creator.existing(caller.user_id, key, request_fingerprint)
        if existing is not None:
            return await self._resume(caller, existing, return_url)
        payable = await self._invoice_payment(
            caller.user_id, invoice_number, order, phone=phone, return_url=return_url
        )
        if isinstance(payable, _StillOpen):
            return CheckoutResult(payable.payment, Checked.STILL_OPEN)
        # The same rules as a plain payment, before any order exists (a zero total, a total
        # over the maximum, a currency no longer accepted: 400, never a 500).
        self.check_amount(payable.amount, payable.currency)
        return await self._open(caller, key, request_fingerprint, payable)

    async def _open(
        self, caller: Caller, key: str, request_fingerprint: str, order: PaymentOrder
    ) -> CheckoutResult:
        """Screens, inserts and opens a new payment of `order`. If an earlier request with the
        same key made one, the insert hits the unique index and that payment is resumed
        instead."""
        new = NewPayment(
            user_id=caller.user_id,
            idempotency_key=key,
            request_fingerprint=request_fingerprint,
            amount=order.amount,
            currency=order.currency,
            customer=order.customer,
            invoice_number=order.invoice_number,
            metadata=order.metadata,
            return_url=order.return_url,
        )
        email = new.customer.email
        assessment = await self.fraud.screen(
            Attempt(
                user_id=caller.user_id,
                amount=new.amount,
                currency=new.currency,
                ip=caller.ip,
                email_hash=self.creator.cipher.lookup_hash(email) if email else None,
                device=caller.device,
                payment_id=new.payment_id,
            )
        )
        if assessment.decision == FraudDecision.REVIEW:
            new = replace(new, risk_flags=assessment.reasons)
        started = await self.creator.start(new, looked_up=True)
        if not started.created:
            return await self._resume(caller, started.payment, new.return_url)
        payment = await self._attach_to_invoice(started.payment)
        payment = await self.creator.open_order(
            payment, return_url=new.return_url, created_by=caller.actor
        )
        return CheckoutResult(payment, Checked.CREATED)

    async def _resume(
        self, caller: Caller, payment: Payment, return_url: str | None
    ) -> CheckoutResult:
        """The payment an earlier request with the same key made, finished if it stopped
        short."""
        if payment.status != PaymentStatus.CREATED:
            return CheckoutResult(payment, Checked.RESUMED)
        # An earlier request stopped between our insert and the gateway's answer: finish it.
        opened = await self.creator.open_order(payment, return_url=return_url)
        await self.audit.append(
            caller.actor,
            "payment.create",
            "payment",
            opened.payment_id,
            before=audited(payment),
            after=audited(opened),
        )
        return CheckoutResult(opened, Checked.RESUMED)

    async def _attach_to_invoice(self, payment: Payment) -> Payment:
        if payment.invoice_number is None:
            return payment
        invoice = await self.invoices.get_for(payment.user_id, payment.invoice_number)
        if not await self.invoices.attach_payment(invoice, payment.payment_id, invoice.payment_id):
            # Another payment was attached meanwhile: ours never reached the gateway; drop it.
            await self.payments.transition(
                payment.payment_id,
                PaymentStatus.CANCELLED,
                Evidence(source="api", detail={"reason": "invoice_paid_by_another_payment"}),
                keep_refused=True,
                expected=frozenset({PaymentStatus.CREATED}),
            )
            raise InvoicePaymentInProgress(invoice_number=invoice.invoice_number)
        return payment

    async def _invoice_payment(
        self,
        user_id: str,
        invoice_number: str,
        order: PaymentOrder | None,
        *,
        phone: str | None,
        return_url: str | None,
    ) -> PaymentOrder | _StillOpen:
        """What a new payment of this invoice must be, or the invoice's payment still open
        (its checkout is still usable, so a second pay request gets it instead of a second
        order): the client's `order` if it asks for the invoice's total (else
        `InvoiceAmountMismatch`), without one the total for the invoice's client."""
        invoice = await self.invoices.get_for(user_id, invoice_number)
        if invoice.status != InvoiceStatus.UNPAID:
            raise InvoiceAlreadyPaid(invoice_number=invoice_number, status=invoice.status.value)
        asked = (order.amount, order.currency) if order is not None else None
        if asked is not None and asked != (invoice.total, invoice.currency):
            raise InvoiceAmountMismatch(
                invoice_number=invoice_number, total=invoice.total, currency=invoice.currency
            )
        if invoice.payment_id is not None:
            current = await self.payments.find(invoice.payment_id)
            if current is not None and current.status in CAPTURED:
                raise InvoiceAlreadyPaid(invoice_number=invoice_number)
            payable = current is not None and current.status != PaymentStatus.CREATED
            if payable and current is not None and await self._order_still_payable(current):
                return _StillOpen(current)
        if order is not None:
            return order
        contact = self.invoices.contact(invoice)
        phone = phone or contact.phone
        if phone is None:
            raise CustomerPhoneRequired(invoice_number=invoice_number)
        # The gateway wants names of 3+ characters; a shorter one is left out.
        name = contact.name if 3 <= len(contact.name) <= 100 else None
        customer = CustomerDetails(phone=phone, name=name, email=contact.email)
        return PaymentOrder(
            invoice.total,
            invoice.currency,
            customer,
            invoice_number=invoice_number,
            return_url=return_url,
        )

    async def _order_still_payable(self, payment: Payment) -> bool:
        """True if the payment's Cashfree order can still be paid (its checkout is reused).
        False only once the order is closed for good (expired or terminated: terminated here
        first if it was still payable), so a new order never opens while an old one can still
        take money. Raises `InvoiceAlreadyPaid` if the old order was paid after all (the
        success is applied), and `InvoicePaymentInProgress` while a termination is still
        pending."""
        if payment.status == PaymentStatus.FAILED and payment.cf_order_id is None:
            return False  # the gateway refused to create the order: nothing can pay it
        try:
            order = await self.gateway.get_order(payment.order_id)
        except GatewayNotFound:
            if payment.cf_order_id is None:
                return False  # never reached the gateway
            # We hold an order the gateway cannot find (yet): unknown, so no second order now.
            raise InvoicePaymentInProgress(invoice_number=payment.invoice_number) from None
        if order.status == GatewayOrderStatus.OPEN and payment.status in OPEN:
            return True
        if order.status == GatewayOrderStatus.OPEN:
            # We hold the payment closed, yet its order still takes money: terminate it first.
            order = await self._terminate(payment)
        if order.status == GatewayOrderStatus.PAID:
            paid = await verify_with_gateway(self.gateway, self.payments, payment, "api")
            raise InvoiceAlreadyPaid(
                invoice_number=payment.invoice_number, payment_id=paid.payment_id
            )
        if order.status in (GatewayOrderStatus.EXPIRED, GatewayOrderStatus.TERMINATED):
            await verify_with_gateway(self.gateway, self.payments, payment, "api")  # closes ours
            return False
        raise InvoicePaymentInProgress(invoice_number=payment.invoice_number)

    async def _terminate(self, payment: Payment) -> GatewayOrder:
        try:
            return await self.gateway.terminate_order(
                payment.order_id,
                idempotency_key=idempotency_key("terminate_order", payment.order_id),
            )
        except GatewayConflict:
            # Paid or expired meanwhile (Cashfree refuses to terminate either): see which.
            return await self.gateway.get_order(payment.order_id)


@dataclass(frozen=True)
class _StillOpen:
    payment: Payment
