"""Invoice use cases: issue (totals computed by us), read with ownership, and point an invoice
at the payment that pays it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from paycore.invoices.errors import (
    InvalidCursor,
    InvoiceAlreadyExists,
    InvoiceNotFound,
    InvoiceTotalsMismatch,
)
from paycore.invoices.models import Invoice, InvoiceClient, InvoiceItem, InvoiceStatus
from paycore.invoices.repository import find_invoice
from paycore.invoices.totals import Line, compute_totals, mismatches
from paycore.kit import audit
from paycore.kit.crypto import FieldCipher
from paycore.kit.events import OutboxEvent
from paycore.kit.mongo import is_duplicate_key
from paycore.kit.state import drain_audit_soon, insert_with_events


@dataclass(frozen=True)
class DraftItem:
    description: str
    quantity: int
    unit_price: int
    amount: int | None = None  # as sent; checked, never trusted


@dataclass(frozen=True)
class ClientDetails:
    name: str
    email: str
    phone: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class InvoiceDraft:
    invoice_number: str
    currency: str
    issue_date: date
    due_date: date
    client: ClientDetails
    items: Sequence[DraftItem]
    tax_rate_bps: int
    notes: str | None = None
    subtotal: int | None = None
    tax: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    phone: str | None


class InvoiceService:
    def __init__(self, cipher: FieldCipher) -> None:
        self.cipher = cipher

    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        return Invoice.get_pymongo_collection()

    async def create(
        self,
        user_id: str,
        draft: InvoiceDraft,
        *,
        idempotency_key: str | None = None,
        request_fingerprint: str | None = None,
    ) -> tuple[Invoice, bool]:
        """Issues the invoice; returns (invoice, created). A retry of the same request gets the
        stored invoice back; any other use of the number is a conflict."""
        lines = [Line(item.quantity, item.unit_price) for item in draft.items]
        totals = compute_totals(lines, draft.tax_rate_bps)
        differences = mismatches(totals, subtotal=draft.subtotal, tax=draft.tax, total=draft.total)
        for position, (item, line) in enumerate(zip(draft.items, lines, strict=True)):
            if item.amount is not None and item.amount != line.amount:
                differences[f"items[{position}].amount"] = {
                    "sent": item.amount,
                    "expected": line.amount,
                }
        if differences:
            raise InvoiceTotalsMismatch(differences=differences)
        client = draft.client
        invoice = Invoice(
            invoice_number=draft.invoice_number,
            user_id=user_id,
            currency=draft.currency,
            issue_date=draft.issue_date,
            due_date=draft.due_date,
            client=InvoiceClient(
                name=client.name,
                email=self.cipher.seal(client.email, "invoice.client.email"),
                email_hash=self.cipher.lookup_hash(client.email),
                phone=self.cipher.seal(client.phone, "invoice.client.phone")
                if client.phone
                else None,
                address=self.cipher.seal(client.address, "invoice.client.address")
                if client.address
                else None,
            ),
            items=[
                InvoiceItem(
                    description=item.description,
                    quantity=item.quantity,
                    unit_price=item.unit_price,
                    amount=line.amount,
                )
                for item, line in zip(draft.items, lines, strict=True)
            ],
            tax_rate_bps=draft.tax_rate_bps,
            subtotal=totals.subtotal,
            tax=totals.tax,
            total=totals.total,
            notes=draft.notes,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
        )
        invoice.outbox = [OutboxEvent.of("email.invoice.generated", summary(invoice))]
        try:
            await insert_with_events(invoice)
        except Exception as exc:
            if not is_duplicate_key(exc):
                raise
            existing = await self._get(user_id, draft.invoice_number)
            if (
                existing is not None
                and existing.user_id == user_id
                and request_fingerprint is not None
                and existing.request_fingerprint == request_fingerprint
            ):
                return existing, False
            raise InvoiceAlreadyExists(invoice_number=draft.invoice_number) from None
        return invoice, True

    async def _get(self, user_id: str, invoice_number: str) -> Invoice | None:
        return await find_invoice(user_id, invoice_number)

    async def get_for(self, user_id: str, invoice_number: str, *, admin: bool = False) -> Invoice:
        """The caller's invoice of that number. An admin also finds another user's, when only
        one user has that number. Otherwise `InvoiceNotFound` (never "exists, not yours")."""
        invoice = await self._get(user_id, invoice_number)
        if invoice is None and admin:
            found = await self.collection.find({"invoice_number": invoice_number}).to_list(2)
            invoice = Invoice.model_validate(found[0]) if len(found) == 1 else None
        if invoice is None:
            raise InvoiceNotFound(invoice_number=invoice_number)
        return invoice

    async def list_for(
        self,
        user_id: str,
        *,
        admin: bool = False,
        client_email: str | None = None,
        statuses: Sequence[InvoiceStatus] = (),
        before: str | None = None,
        limit: int = 20,
    ) -> list[Invoice]:
        """Newest first. An admin filtering by client email sees every user's invoices."""
        query: dict[str, Any] = {}
        if client_email is not None:
            query["client.email_hash"] = self.cipher.lookup_hash(client_email)
        if not (admin and client_email is not None):
            query["user_id"] = user_id
        if statuses:
            query["status"] = {"$in": [status.value for status in statuses]}
        if before is not None:
            # The cursor is the last invoice number seen: continue after it, newest first.
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
        """Points the unpaid invoice at `payment_id`, if it still points at the previous one
        (two concurrent pay requests: one wins, the other learns it lost)."""
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

    def contact(self, invoice: Invoice) -> Contact:
        """The client's contact details, decrypted (for the gateway's customer fields)."""
        client = invoice.client
        return Contact(
            name=client.name,
            email=self.cipher.open(client.email, "invoice.client.email"),
            phone=self.cipher.open(client.phone, "invoice.client.phone") if client.phone else None,
        )


def summary(invoice: Invoice) -> dict[str, Any]:
    """What events say about an invoice (no client contact details)."""
    return {
        "invoice_number": invoice.invoice_number,
        "user_id": invoice.user_id,
        "currency": invoice.currency,
        "total": invoice.total,
        "due_date": invoice.due_date.isoformat(),
        "status": invoice.status.value,
    }
