"""Invoice look-ups shared by the service, the payment sync and the email composer."""

from __future__ import annotations

from paycore.invoices.models import Invoice, invoice_key


async def find_invoice(user_id: str, invoice_number: str) -> Invoice | None:
    """The user's invoice of that number: keyed per user, or stored before that (its `_id` is
    the bare number, and it must be this user's)."""
    collection = Invoice.get_pymongo_collection()
    raw = await collection.find_one({"_id": invoice_key(user_id, invoice_number)})
    if raw is None:
        raw = await collection.find_one({"_id": invoice_number, "user_id": user_id})
    return Invoice.model_validate(raw) if raw is not None else None
