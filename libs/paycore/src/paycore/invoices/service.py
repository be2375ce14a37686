"""Invoice use cases: issue (totals computed by us), read with ownership, and point an invoice
at the payment that pays it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from paycore.invoices.errors import (
    InvoiceAlreadyExists,
    InvoiceNotFound,
    InvoiceTotalsMismatch,
)
from paycore.invoices.models import Invoice, InvoiceClient, InvoiceItem, InvoiceStatus
from paycore.invoices.repository import InvoiceRepository
from paycore.invoices.totals import Line, compute_totals, mismatches
from paycore.kit.crypto import FieldCipher
from paycore.kit.events import OutboxEvent
from paycore.kit.mongo import is_duplicate_key


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
    def __init__(self, cipher: FieldCipher, repository: InvoiceRepository | None = None) -> None:
        self.cipher = cipher
        self.repository = repository or InvoiceRepository()

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
            await self.repository.insert(invoice)
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
        return await self.repository.get(user_id, invoice_number)

    async def get_for(self, user_id: str, invoice_number: str, *, admin: bool = False) -> Invoice:
        """The caller's invoice of that number. An admin also finds another user's, when only
        one user has that number. Otherwise `InvoiceNotFound` (never "exists, not yours")."""
        invoice = await self._get(user_id, invoice_number)
        if invoice is None and admin:
            invoice = await self.repository.only_one_numbered(invoice_number)
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
        return await self.repository.list_page(
            user_id=None if admin and client_email is not None else user_id,
            email_hash=self.cipher.lookup_hash(client_email) if client_email is not None else None,
            statuses=statuses,
            before=before,
            limit=limit,
        )

    async def attach_payment(
        self, invoice: Invoice, payment_id: str, previous_payment_id: str | None
    ) -> bool:
        """Points the unpaid invoice at `payment_id`, if it still points at the previous one
        (two concurrent pay requests: one wins, the other learns it lost)."""
        return await self.repository.attach_payment(invoice, payment_id, previous_payment_id)

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
