"""Keeps an invoice's status in step with its payment, from whichever service moved it.

Derived, not transitioned: the status is a function of the payment, and the write is guarded
by the payment's version, so repeating it, or running it late with an older payment, is safe.

Money received for an invoice by a payment other than its own (a late success on an order we
had closed, after a new one was opened), or a second capture on its order, marks the invoice
overpaid (`extra_payments`) and raises a critical alert, once per capture.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from paycore.alerts import raise_alert
from paycore.invoices.models import Invoice, InvoiceStatus
from paycore.invoices.repository import InvoiceRepository, find_invoice
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.states import CAPTURED

# Whether a payment (by id) took money: `PaymentRepository.is_captured`, passed in because that
# repository syncs invoices on every write, so it imports this module.
CapturedCheck = Callable[[str], Awaitable[bool]]


def invoice_status(payment: Payment) -> InvoiceStatus:
    if payment.status == PaymentStatus.REFUNDED:
        return InvoiceStatus.REFUNDED
    if payment.status not in (PaymentStatus.SUCCESS, PaymentStatus.PARTIALLY_REFUNDED):
        return InvoiceStatus.UNPAID
    if payment.refund_reserved_amount > 0:
        return InvoiceStatus.REFUND_INITIATING
    if payment.last_refund_status in ("FAILED", "CANCELLED"):
        return InvoiceStatus.REFUND_FAILED
    if payment.status == PaymentStatus.PARTIALLY_REFUNDED:
        return InvoiceStatus.PARTIALLY_REFUNDED
    return InvoiceStatus.PAID


async def sync_invoice(payment: Payment | None, *, is_captured: CapturedCheck) -> bool:
    """Sets the status of the payment's invoice; True if it changed. `is_captured` answers for
    the invoice's own payment when another one of its payments took money."""
    if payment is None or payment.invoice_number is None:
        return False
    invoice = await find_invoice(payment.user_id, payment.invoice_number)
    if invoice is None or invoice.id is None:
        return False
    if payment.status in CAPTURED:
        await _note_money_received(payment, invoice, is_captured)
    return await InvoiceRepository().follow_payment(
        invoice,
        invoice_status(payment),
        payment_id=payment.payment_id,
        payment_version=payment.version,
    )


async def _note_money_received(
    payment: Payment, invoice: Invoice, is_captured: CapturedCheck
) -> None:
    """A captured payment that is not (or not only) what its invoice counts as paid."""
    number = payment.invoice_number
    invoice_id = str(invoice.id)
    extra = [f"{payment.payment_id}:{cf}" for cf in payment.extra_captures]
    if invoice.payment_id != payment.payment_id:
        # The invoice's own payment took no money: this one paid it.
        paid_by_own = invoice.payment_id is not None and await is_captured(invoice.payment_id)
        if not paid_by_own and await InvoiceRepository().repoint_to_paying(
            invoice, payment.payment_id
        ):
            await raise_alert(
                f"invoice_paid_by_earlier_payment:{number}:{payment.payment_id}",
                "invoice_paid_by_earlier_payment",
                "high",
                invoice_number=number,
                payment_id=payment.payment_id,
                superseded_payment_id=invoice.payment_id,
            )
            return await _note_extra(invoice_id, extra, payment)
        extra.insert(0, payment.payment_id)
    await _note_extra(invoice_id, extra, payment)


async def _note_extra(invoice_id: str, extra: list[str], payment: Payment) -> None:
    number = payment.invoice_number
    for entry in extra:
        await InvoiceRepository().add_extra_payment(invoice_id, entry)
        await raise_alert(
            f"invoice_overpaid:{number}:{entry}",
            "invoice_overpaid",
            "critical",
            invoice_number=number,
            payment_id=payment.payment_id,
            extra=entry,
            captured_amount=payment.captured_amount,
            currency=payment.currency,
        )
