"""The customer's pay-link routes: no login, the signed token in the path is the credential.

A pay link acts for the invoice's issuer, on that one invoice only: read it, pay it (the same
use case as `POST /invoices/{number}/pay`), verify its payment. Rate limited per IP (a
customer's requests never use up the merchant's own allowance).
"""

from __future__ import annotations

from typing import Any

from paycore.auth.tokens import Principal, Scope
from paycore.invoices.models import Invoice
from paycore.invoices.paylinks import PayLinkInvalid
from paycore.payments.models import Payment, Transaction
from paycore.payments.service import FAILED_ATTEMPTS
from paycore.payments.states import CAPTURED
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import Api, get_api, respond
from payments_api.routes.invoices import pay_as
from payments_api.routes.payments import verify_owned

# What a pay link may do for the issuer: read and pay this invoice; never refund, never admin.
PAY_LINK_SCOPES = frozenset({Scope.READ, Scope.WRITE})


async def _open(request: Request) -> tuple[Api, Principal, Invoice]:
    api = get_api(request)
    await api.limiter.check(ip=api.client_ip(request), user_id=None)
    if api.pay_links is None:
        raise PayLinkInvalid("pay links are not enabled")
    link = api.pay_links.read(request.path_params["token"])
    invoice = await api.invoices.get_for(link.user_id, link.invoice_number)
    return api, Principal(user_id=link.user_id, scopes=PAY_LINK_SCOPES), invoice


async def _view(api: Api, invoice: Invoice) -> dict[str, Any]:
    payment = await api.payments.find(invoice.payment_id) if invoice.payment_id else None
    attempts = await api.payments.attempts_of(payment.payment_id) if payment else []
    return pay_link_out(invoice, payment, attempts[-1] if attempts else None)


async def get_pay_link(request: Request) -> Response:
    """The invoice a pay link names, with its current payment."""
    api, _, invoice = await _open(request)
    return respond(await _view(api, invoice))


async def pay_pay_link(request: Request) -> Response:
    """Opens the invoice's payment (or returns the one still open): what checkout needs."""
    api, principal, invoice = await _open(request)
    return await pay_as(
        api,
        request,
        principal,
        invoice.invoice_number,
        namespace="paylink",
        key_prefix="paylink.",
    )


async def verify_pay_link(request: Request) -> Response:
    """Asks Cashfree about the invoice's payment, applies it, and returns the invoice view."""
    api, principal, invoice = await _open(request)
    if invoice.payment_id is not None:
        payment = await api.payments.find(invoice.payment_id)
        if payment is not None:
            await verify_owned(api, request, principal, payment)
        invoice = await api.invoices.get_for(principal.user_id, invoice.invoice_number)
    return respond(await _view(api, invoice))


def pay_link_out(
    invoice: Invoice, payment: Payment | None, last_attempt: Transaction | None
) -> dict[str, Any]:
    """What the customer sees: the invoice (no contact details), its payment's state, and
    whether the latest attempt on its order failed (the order stays payable: a retry pays the
    same order)."""
    attempt_failed = (
        payment is not None
        and payment.status not in CAPTURED
        and last_attempt is not None
        and last_attempt.status in FAILED_ATTEMPTS
    )
    return {
        "invoice": {
            "invoice_number": invoice.invoice_number,
            "status": invoice.status.value,
            "currency": invoice.currency,
            "issue_date": invoice.issue_date.isoformat(),
            "due_date": invoice.due_date.isoformat(),
            "client": {"name": invoice.client.name},
            "items": [item.model_dump() for item in invoice.items],
            "tax_rate_bps": invoice.tax_rate_bps,
            "subtotal": invoice.subtotal,
            "tax": invoice.tax,
            "total": invoice.total,
            "notes": invoice.notes,
            # The gateway needs a phone: without one on the invoice, the customer gives it.
            "phone_required": invoice.client.phone is None,
        },
        "payment": None
        if payment is None
        else {
            "order_id": payment.order_id,
            "status": payment.status.value,
            "amount": payment.amount,
            "currency": payment.currency,
            "captured_amount": payment.captured_amount,
            "refunded_amount": payment.refunded_amount,
            "payment_method": payment.payment_method,
            "cf_payment_id": payment.cf_payment_id,
            "failure_reason": payment.failure_reason,
            "updated_at": payment.updated_at.isoformat(),
            "last_attempt_failed": attempt_failed,
            "last_attempt_reason": last_attempt.failure_reason
            if attempt_failed and last_attempt
            else None,
        },
    }
