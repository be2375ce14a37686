"""Invoice queries: every read and write of the `invoices` collection goes through here
(`sync.py` decides what an invoice's payment means for it; the writes are these)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from paycore.invoices.errors import InvalidCursor
from paycore.invoices.models import Invoice, InvoiceStatus, invoice_key
from paycore.kit import audit
from paycore.kit.state import drain_audit_soon, insert_with_events


async def find_invoice(user_id: str, invoice_number: str) -> Invoice | None:
    """The user's invoice of that number: keyed per user, or stored before that (its `_id` is
    the bare number, and it must be this user's)."""
    collection = Invoice.get_pymongo_collection()
    raw = await collection.find_one({"_id": invoice_key(user_id, invoice_number)})
    if raw is None:
        raw = await collection.find_one({"_id": invoice_number, "user_id": user_id})
    return Invoice.model_validate(raw) if raw is not None else None


class InvoiceRepository:
    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        return Invoice.get_pymongo_collection()

    async def get(self, user_id: str, invoice_number: str) -> Invoice | None:
        return await find_invoice(user_id, invoice_number)

    async def insert(self, invoice: Invoice) -> None:
        """Inserts the invoice with its outbox and hands that to the relay; a duplicate key
        raises."""
        await insert_with_events(invoice)

    async def only_one_numbered(self, invoice_number: str) -> Invoice | None:
        """The invoice of that number when exactly one user has one, else None."""
        found = await self.collection.find({"invoice_number": invoice_number}).to_list(2)
        return Invoice.model_validate(found[0]) if len(found) == 1 else None

    async def list_page(
        self,
        *,
        user_id: str | None,
        email_hash: str | None = None,
        statuses: Sequence[InvoiceStatus] = (),
        before: str | None = None,
        limit: int = 20,
    ) -> list[Invoice]:
        """Newest first: the user's (every user's when `user_id` is None) invoices, of that
        client email look-up hash and those statuses, after cursor `before` (the last invoice
        seen; `InvalidCursor` if it names none)."""
        query: dict[str, Any] = {}
        if email_hash is not None:
            query["client.email_hash"] = email_hash
        if user_id is not None:
            query["user_id"] = user_id
        if statuses:
            query["status"] = {"$in": [status.value for status in statuses]}
        if before is not None:
            last = await self.collection.find_one({"_id": before}, {"created_at": 1})
            if last is None:
                raise InvalidCursor(cursor=before)
            query["$or"] = [
                {"created_at": {"$lt": last["created_at"]}},
                {"created_at": last["created_at"], "_id": {"$lt": before}},
            ]
        cursor = (
            self.collection.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [Invoice.model_validate(raw) async for raw in cursor]

    async def attach_payment(
        self, invoice: Invoice, payment_id: str, previous_payment_id: str | None
    ) -> bool:
        """Points the unpaid invoice at `payment_id` if it still points at the previous one
        (audited); False if it does not any more."""
        entry = audit.new_entry(
            "invoice.payment_attached",
            before={"payment_id": previous_payment_id},
            after={"payment_id": payment_id},
        )
        update = {
            # The new payment's versions start again from 0: so must the guard of `sync`.
            "$set": {
                "payment_id": payment_id,
                "payment_version": -1,
                "updated_at": datetime.now(UTC),
            },
            "$inc": {"version": 1},
        }
        result = await self.collection.update_one(
            {
                "_id": invoice.id,
                "status": InvoiceStatus.UNPAID.value,
                "payment_id": previous_payment_id,
            },
            audit.pending_update(self.collection, update, entry),
        )
        if result.modified_count != 1:
            return False
        drain_audit_soon(self.collection, str(invoice.id))
        return True

    async def follow_payment(
        self, invoice: Invoice, status: InvoiceStatus, *, payment_id: str, payment_version: int
    ) -> bool:
        """Sets the invoice's `status` from version `payment_version` of its payment
        `payment_id`, audited when the status changes; False (nothing written) if the invoice
        is another payment's now or already saw that version or a later one."""
        target = status.value
        update: dict[str, Any] = {
            "$set": {
                "status": target,
                "payment_version": payment_version,
                "updated_at": datetime.now(UTC),
            },
            "$inc": {"version": 1},
        }
        changes_status = invoice.status.value != target
        if changes_status:  # audited in the same write (paycore.kit.audit)
            entry = audit.new_entry(
                f"invoice.{target.lower()}",
                before={"status": invoice.status.value},
                after={"status": target, "payment_version": payment_version},
                evidence={"source": "payment", "reference": payment_id},
            )
            update = audit.pending_update(self.collection, update, entry)
        result = await self.collection.update_one(
            {
                "_id": invoice.id,
                "payment_id": payment_id,
                "payment_version": {"$lt": payment_version},
            },
            update,
        )
        if result.modified_count != 1:
            return False
        if changes_status:
            drain_audit_soon(self.collection, str(invoice.id))
        return True

    async def repoint_to_paying(self, invoice: Invoice, payment_id: str) -> bool:
        """Points the invoice (whatever its status) at `payment_id`, the payment that paid it,
        if it still points at `invoice.payment_id` (audited); False if it does not any more."""
        invoice_id = str(invoice.id)
        entry = audit.new_entry(
            "invoice.payment_attached",
            before={"payment_id": invoice.payment_id},
            after={"payment_id": payment_id},
            evidence={"source": "payment", "reference": payment_id},
        )
        repointed = await self.collection.update_one(
            {"_id": invoice_id, "payment_id": invoice.payment_id},
            audit.pending_update(
                self.collection,
                {
                    # The new payment's versions start again from 0: so must the sync's guard.
                    "$set": {"payment_id": payment_id, "payment_version": -1},
                    "$inc": {"version": 1},
                },
                entry,
            ),
        )
        if repointed.modified_count != 1:
            return False
        drain_audit_soon(self.collection, invoice_id)
        return True

    async def add_extra_payment(self, invoice_id: str, extra: str) -> None:
        """Records money received beyond the invoice's own capture (`payment_id` or
        `payment_id:cf_payment_id`), once."""
        await self.collection.update_one(
            {"_id": invoice_id, "extra_payments": {"$ne": extra}},
            {"$push": {"extra_payments": extra}, "$inc": {"version": 1}},
        )
