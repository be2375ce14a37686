"""Keeps an invoice's status in step with its payment, from whichever service moved it.

Derived, not transitioned: the status is a function of the payment, and the write is guarded
by the payment's version, so repeating it, or running it late with an older payment, is safe.
"""

from __future__ import annotations

from datetime import UTC, datetime

from paycore.invoices.models import Invoice, InvoiceStatus
from paycore.payments.models import Payment, PaymentStatus


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


async def sync_invoice(payment: Payment | None) -> bool:
    """Sets the status of the payment's invoice; True if it changed."""
    if payment is None or payment.invoice_number is None:
        return False
    result = await Invoice.get_pymongo_collection().update_one(
        {
            "_id": payment.invoice_number,
            "payment_id": payment.payment_id,
            "payment_version": {"$lt": payment.version},
        },
        {
            "$set": {
                "status": invoice_status(payment).value,
                "payment_version": payment.version,
                "updated_at": datetime.now(UTC),
            },
            "$inc": {"version": 1},
        },
    )
    return result.modified_count == 1
