from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel, Field, model_validator
from pymongo import ASCENDING, DESCENDING, IndexModel

from paycore.kit.audit import audited
from paycore.kit.crypto import Sealed
from paycore.kit.events import OUTBOX_DUE_INDEX, OutboxEvent
from paycore.kit.mongo import TimestampedDocument


class InvoiceStatus(StrEnum):
    UNPAID = "UNPAID"
    PAID = "PAID"
    REFUND_INITIATING = "REFUND_INITIATING"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    REFUND_FAILED = "REFUND_FAILED"


class InvoiceItem(BaseModel):
    description: str
    quantity: int
    unit_price: int  # minor units
    amount: int  # quantity × unit_price


class InvoiceClient(BaseModel):
    """The billed client; contact details sealed at rest, email hashed for look-ups."""

    name: str
    email: Sealed
    email_hash: str
    phone: Sealed | None = None
    address: Sealed | None = None


def invoice_key(user_id: str, invoice_number: str) -> str:
    """The document key: invoice numbers are unique per issuing user, not globally. Each part
    is percent-encoded, so no user id and number can join into another pair's key."""
    return f"{quote(user_id, safe='')}:{quote(invoice_number, safe='')}"


class Invoice(TimestampedDocument):
    """`_id` is `invoice_key(user_id, invoice_number)`; invoices stored before numbers were
    per user keep their number as `_id` (see `InvoiceService` look-ups, which find both)."""

    key_field = "invoice_key"
    # The global unique index of the number: it let one merchant learn another's numbers.
    retired_indexes: ClassVar[tuple[str, ...]] = ("invoice_number_unique",)

    invoice_key: str = ""
    invoice_number: str
    user_id: str  # the merchant user who issued it
    currency: str
    issue_date: date
    due_date: date
    client: InvoiceClient
    items: list[InvoiceItem]
    tax_rate_bps: int  # basis points: 1800 = 18 %
    subtotal: int
    tax: int
    total: int
    notes: str | None = None
    status: InvoiceStatus = InvoiceStatus.UNPAID
    payment_id: str | None = None
    # Money received beyond the invoice's payment: other payments of it that captured too
    # (`pay_X`), or second captures on its order (`pay_X:cf_payment_id`). Non-empty means the
    # invoice was paid more than once: an operator refunds the extra (alerted).
    extra_payments: list[str] = Field(default_factory=list)
    # The payment version the status was derived from: an older one never overwrites it.
    payment_version: int = -1
    # The request that created it: a retry with the same body gets this invoice back.
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    version: int = 0
    outbox: list[OutboxEvent] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _key(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("invoice_key"):
            data = {**data, "invoice_key": invoice_key(data["user_id"], data["invoice_number"])}
        return data

    class Settings:
        name = "invoices"
        indexes = [
            IndexModel(
                [("user_id", ASCENDING), ("invoice_number", ASCENDING)],
                name="user_invoice_number_unique",
                unique=True,
            ),
            IndexModel([("invoice_number", ASCENDING)], name="invoice_number"),
            IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_created"),
            IndexModel([("client.email_hash", ASCENDING)], name="client_email_hash"),
            IndexModel([("payment_id", ASCENDING)], name="payment_id"),
            OUTBOX_DUE_INDEX,
        ]


# Every change of an invoice is audited (paycore.kit.audit).
audited(Invoice.Settings.name, "invoice")
