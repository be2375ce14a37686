"""Who gets each email and what its template is given, from the event and our documents.

Events carry ids and amounts, never PII: the address is read from the payment (customer) or
the invoice (client), sealed at rest, and opened here only to send. Each event is read through
its routing key's payload model (`paycore.events.catalog`), the one its publisher writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from cryptography.exceptions import InvalidTag
from loguru import logger
from pydantic import ValidationError

from paycore.emails.errors import EmailDataMissing
from paycore.emails.models import EmailKind
from paycore.events.payloads import (
    AdminAlertRaised,
    InvoiceGenerated,
    Payload,
    PaymentChanged,
    RefundChanged,
)
from paycore.invoices.paylinks import PayLinks, fill_link
from paycore.invoices.repository import find_invoice
from paycore.kit.crypto import FieldCipher, Sealed
from paycore.kit.events import EventEnvelope
from paycore.payments.models import Payment
from paycore.payments.repository import PaymentRepository

REFUND_SUCCEEDED: Final = "SUCCESS"

P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class EmailSettings:
    """What the templates need besides the event (from the email-worker's settings)."""

    brand: str = "paycore"
    support_email: str = "support@paycore.local"
    admin_email: str = "ops@paycore.local"
    # `{payment_id}`, `{order_id}`, `{invoice_number}` and `{pay_token}` (a pay link's token,
    # when the payment is an invoice's and pay links are on) are filled in; empty: no link.
    payment_retry_url: str = ""
    invoice_pay_url: str = ""
    pay_links: PayLinks | None = None
    refund_expected_time: str = "within 5-7 working days"


@dataclass(frozen=True)
class Composed:
    """An email ready to render; `address` None means there is no one to send it to."""

    address: str | None
    context: dict[str, Any]
    refs: dict[str, str | None] = field(default_factory=dict)


class EmailComposer:
    def __init__(self, settings: EmailSettings, cipher: FieldCipher | None) -> None:
        self.settings = settings
        self.cipher = cipher

    async def compose(self, kind: EmailKind, envelope: EventEnvelope) -> Composed:
        """The email of `kind` for `envelope`; `EmailDataMissing` when the event does not fit
        its payload model or names a document we do not have."""
        base = {
            "brand": self.settings.brand,
            "support_email": self.settings.support_email,
            "recipient_name": None,
            "reference": None,
        }
        if kind == EmailKind.ADMIN_ALERT:
            return self._admin_alert(envelope, _read(envelope, AdminAlertRaised), base)
        if kind == EmailKind.INVOICE_GENERATED:
            return await self._invoice(_read(envelope, InvoiceGenerated), base)
        if kind == EmailKind.PAYMENT_REFUND:
            return await self._refund(_read(envelope, RefundChanged), base)
        return await self._payment_email(kind, _read(envelope, PaymentChanged), base)

    def _admin_alert(
        self, envelope: EventEnvelope, alert: AdminAlertRaised, base: dict[str, Any]
    ) -> Composed:
        data = alert.model_dump()  # the incident's facts travel as the model's extra fields
        details = sorted(
            (name, value) for name, value in data.items() if name not in ("alert", "severity")
        )
        context = base | {
            "alert": alert.alert or "unspecified",
            "severity": alert.severity or "high",
            "details": details,
            "event_id": envelope.event_id,
            "occurred_at": envelope.occurred_at.isoformat(),
        }
        return Composed(self.settings.admin_email, context, _refs(data))

    async def _payment_email(
        self, kind: EmailKind, event: PaymentChanged, base: dict[str, Any]
    ) -> Composed:
        payment, address, context = await self._to_customer(event.payment_id, base)
        context |= {
            "reference": event.payment_id,
            "amount": event.amount,
            "currency": event.currency,
        }
        if kind == EmailKind.PAYMENT_SUCCESS:
            context |= {
                "transaction_id": event.cf_payment_id or payment.cf_payment_id,
                "invoice_number": event.invoice_number or payment.invoice_number,
                "payment_method": event.payment_method or payment.payment_method,
            }
        else:
            reason = event.failure_reason or payment.failure_reason
            context |= {
                "failure_reason": _readable(reason) if reason else None,
                "retry_url": self._link(self.settings.payment_retry_url, payment),
            }
        return Composed(address, context, _refs(event.model_dump()))

    async def _refund(self, event: RefundChanged, base: dict[str, Any]) -> Composed:
        """A refund's email: the amount is the refund's, from its own summary."""
        _, address, context = await self._to_customer(event.payment_id, base)
        context |= {
            "reference": event.refund_id,
            "amount": event.amount,
            "currency": event.currency,
            "refund_id": event.refund_id,
            "status": event.status,
            "succeeded": event.status == REFUND_SUCCEEDED,
            "expected_time": self.settings.refund_expected_time,
        }
        return Composed(address, context, _refs(event.model_dump()))

    async def _to_customer(
        self, payment_id: str, base: dict[str, Any]
    ) -> tuple[Payment, str | None, dict[str, Any]]:
        """The payment, its customer's address and the context every customer email has."""
        payment = await PaymentRepository().get(payment_id)
        if payment is None:
            raise EmailDataMissing(payment_id=payment_id)
        customer = payment.customer
        address = self._open(customer.email, "customer.email", required=True)
        context = base | {
            "recipient_name": self._open(customer.name, "customer.name", required=False),
            "payment_id": payment_id,
            "order_id": payment.order_id,
        }
        return payment, address, context

    async def _invoice(self, event: InvoiceGenerated, base: dict[str, Any]) -> Composed:
        invoice = await find_invoice(event.user_id, event.invoice_number)
        if invoice is None:
            raise EmailDataMissing(invoice_number=event.invoice_number)
        address = self._open(invoice.client.email, "invoice.client.email", required=True)
        context = base | {
            "recipient_name": invoice.client.name,
            "reference": invoice.invoice_number,
            "invoice": invoice,
            "tax_rate": f"{invoice.tax_rate_bps / 100:g}%",
            "pay_url": fill_link(
                self.settings.invoice_pay_url,
                invoice_number=invoice.invoice_number,
                payment_id="",
                order_id="",
                **self._pay_token(invoice.user_id, invoice.invoice_number),
            ),
        }
        return Composed(address, context, _refs(event.model_dump()))

    def _open(self, sealed: Sealed | None, context: str, *, required: bool) -> str | None:
        if sealed is None:
            return None
        if self.cipher is None:
            raise EmailDataMissing("no encryption key configured to read the address")
        try:
            return self.cipher.open(sealed, context)
        except (InvalidTag, KeyError, ValueError) as exc:
            if required:
                # Another key or a damaged value: an operator fixes the key, then replays.
                raise EmailDataMissing(f"cannot open {context}", key_id=sealed.key_id) from exc
            logger.warning("cannot open an optional sealed field", field=context)
            return None

    def _link(self, template: str, payment: Payment) -> str | None:
        token = (
            self._pay_token(payment.user_id, payment.invoice_number)
            if payment.invoice_number
            else {}
        )
        return fill_link(
            template,
            payment_id=payment.payment_id,
            order_id=payment.order_id,
            invoice_number=payment.invoice_number or "",
            **token,
        )

    def _pay_token(self, user_id: str, invoice_number: str) -> dict[str, str]:
        """`{"pay_token": ...}` when pay links are on, else nothing (a template needing one
        then gives no link)."""
        links = self.settings.pay_links
        return {"pay_token": links.issue(user_id, invoice_number)} if links else {}


def _read(envelope: EventEnvelope, model: type[P]) -> P:
    """The event's payload as `model`; an event that does not fit cannot be emailed (a replay
    will not change it), so it is `EmailDataMissing`, not retried."""
    try:
        return envelope.payload(model)
    except ValidationError as exc:
        missing = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise EmailDataMissing(f"the {envelope.type} event does not fit: {missing}") from exc


def _refs(data: Mapping[str, Any]) -> dict[str, str | None]:
    return {
        name: str(data[name]) if data.get(name) is not None else None
        for name in ("payment_id", "refund_id", "invoice_number")
    }


def _readable(reason: str) -> str:
    """`USER_DROPPED` → `user dropped`: gateway codes as words."""
    return reason.replace("_", " ").strip().lower()
