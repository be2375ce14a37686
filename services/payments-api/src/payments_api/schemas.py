"""Request bodies (strict: unknown fields and wrong types are refused); the response shapes
are in `payments_api.responses`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from paycore.money import MAX_MINOR_UNITS, MAX_QUANTITY
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

# Identifiers and free text, bounded; nothing here can become a query operator (plain strings).
PaymentId = Annotated[str, StringConstraints(pattern=r"^pay_[0-9A-Z]{26}$")]
OrderId = Annotated[str, StringConstraints(pattern=r"^ord_[0-9A-Z]{26}$")]
# Unique per issuing user; no "/" (a number must fit in one URL path segment to be fetched).
InvoiceNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Phone = Annotated[str, StringConstraints(pattern=r"^(\d{10}|\+\d{8,15})$")]
Email = Annotated[
    str, StringConstraints(max_length=100, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
MetadataKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
MetadataValue = Annotated[str, StringConstraints(max_length=200)]
Url = Annotated[str, StringConstraints(max_length=250, pattern=r"^https?://[^\s]+$")]
# Amounts in minor units stop at MAX_MINOR_UNITS: a larger integer is no money we handle, and
# beyond int64 the database cannot store it at all.
PositiveInt = Annotated[int, Field(strict=True, gt=0, le=MAX_MINOR_UNITS)]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0, le=MAX_MINOR_UNITS)]
Quantity = Annotated[int, Field(strict=True, gt=0, le=MAX_QUANTITY)]


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class CustomerIn(StrictBody):
    phone: Phone
    customer_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,50}$")] | None = None
    name: Annotated[str, StringConstraints(min_length=3, max_length=100)] | None = None
    email: Email | None = None


class CreatePaymentIn(StrictBody):
    amount: PositiveInt  # minor units
    currency: CurrencyCode = "INR"
    customer: CustomerIn
    invoice_number: InvoiceNumber | None = None
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict, max_length=20)
    return_url: Url | None = None


class VerifyPaymentIn(StrictBody):
    payment_id: PaymentId | None = None
    order_id: OrderId | None = None

    @model_validator(mode="after")
    def _one_id(self) -> VerifyPaymentIn:
        if (self.payment_id is None) == (self.order_id is None):
            raise ValueError("send exactly one of payment_id and order_id")
        return self


class InitiateRefundIn(StrictBody):
    payment_id: PaymentId
    amount: PositiveInt | None = None  # omitted: everything still refundable
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class ResolveItemIn(StrictBody):
    note: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class StartReconciliationIn(StrictBody):
    start: AwareDatetime  # the window [start, end), with a UTC offset
    end: AwareDatetime


class InvoiceItemIn(StrictBody):
    description: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    quantity: Quantity
    unit_price: NonNegativeInt  # minor units
    amount: NonNegativeInt | None = None  # checked against quantity × unit_price


class InvoiceClientIn(StrictBody):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: Email
    phone: Phone | None = None
    address: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None


class CreateInvoiceIn(StrictBody):
    invoice_number: InvoiceNumber
    currency: CurrencyCode = "INR"
    issue_date: date
    due_date: date
    client: InvoiceClientIn
    items: list[InvoiceItemIn] = Field(min_length=1, max_length=100)
    # Percent with at most two decimals ("18", "18.5"): sent as a string or an integer.
    tax_rate: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2, strict=False)] = Decimal(0)
    notes: Annotated[str, StringConstraints(max_length=1000)] | None = None
    subtotal: NonNegativeInt | None = None
    tax: NonNegativeInt | None = None
    total: NonNegativeInt | None = None

    @model_validator(mode="after")
    def _payable_total(self) -> CreateInvoiceIn:
        subtotal = sum(item.quantity * item.unit_price for item in self.items)
        if subtotal > MAX_MINOR_UNITS:
            raise ValueError(f"the items add up to more than {MAX_MINOR_UNITS} minor units")
        return self

    @model_validator(mode="after")
    def _due_after_issue(self) -> CreateInvoiceIn:
        if self.due_date < self.issue_date:
            raise ValueError("due_date is before issue_date")
        return self

    @property
    def tax_rate_bps(self) -> int:
        return int(self.tax_rate * 100)


class PayInvoiceIn(StrictBody):
    customer_phone: Phone | None = None  # when the invoice has no client phone
    return_url: Url | None = None
