"""Keeps an invoice's status in step with its payment, from whichever service moved it.

Derived, not transitioned: the status is a function of the payment, and the write is guarded
by the payment's version, so repeating it, or running it late with an older payment, is safe.

Money received for an invoice by a payment other than its own (a late success on an order we
had closed, after a new one was opened), or a second capture on its order, marks the invoice
overpaid (`extra_payments`) and raises a critical alert, once per capture.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from paycore.alerts import raise_alert
from paycore.invoices.models import Invoice, InvoiceStatus
from paycore.invoices.repository import find_invoice
from paycore.kit import audit
from paycore.kit.state import drain_audit_soon
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.states import CAPTURED


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
    invoice = await find_invoice(payment.user_id, payment.invoice_number)
    if invoice is None or invoice.id is None:
        return False
    invoice_id = invoice.id
    if payment.status in CAPTURED:
        await _note_money_received(payment, invoice)
    collection = Invoice.get_pymongo_collection()
    target = invoice_status(payment).value
    update: dict[str, Any] = {
        "$set": {
            "status": target,
            "payment_version": payment.version,
            "updated_at": datetime.now(UTC),
        },
        "$inc": {"version": 1},
    }
    changes_status = invoice.status.value != target
    if changes_status:  # audited in the same write (paycore.kit.audit)
        entry = audit.new_entry(
            f"invoice.{target.lower()}",
            before={"status": invoice.status.value},
            after={"status": target, "payment_version": payment.version},
            evidence={"source": "payment", "reference": payment.payment_id},
        )
        update = audit.pending_update(collection, update, entry)
    result = await collection.update_one(
        {
            "_id": invoice_id,
            "payment_id": payment.payment_id,
            "payment_version": {"$lt": payment.version},
        },
        update,
    )
    if result.modified_count != 1:
        return False
    if changes_status:
        drain_audit_soon(collection, str(invoice_id))
    return True


async def _note_money_received(payment: Payment, invoice: Invoice) -> None:
    """A captured payment that is not (or not only) what its invoice counts as paid."""
    collection = Invoice.get_pymongo_collection()
    number = payment.invoice_number
    invoice_id = str(invoice.id)
    extra = [f"{payment.payment_id}:{cf}" for cf in payment.extra_captures]
    if invoice.payment_id != payment.payment_id:
        current = await Payment.get_pymongo_collection().find_one({"_id": invoice.payment_id})
        if current is None or current["status"] not in {s.value for s in CAPTURED}:
            # The invoice's own payment took no money: this one paid it.
            entry = audit.new_entry(
                "invoice.payment_attached",
                before={"payment_id": invoice.payment_id},
                after={"payment_id": payment.payment_id},
                evidence={"source": "payment", "reference": payment.payment_id},
            )
            repointed = await collection.update_one(
                {"_id": invoice_id, "payment_id": invoice.payment_id},
                audit.pending_update(
                    collection,
                    {
                        "$set": {"payment_id": payment.payment_id, "payment_version": -1},
                        "$inc": {"version": 1},
                    },
                    entry,
                ),
            )
            if repointed.modified_count == 1:
                drain_audit_soon(collection, str(invoice_id))
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
        await Invoice.get_pymongo_collection().update_one(
            {"_id": invoice_id, "extra_payments": {"$ne": entry}},
            {"$push": {"extra_payments": entry}, "$inc": {"version": 1}},
        )
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
