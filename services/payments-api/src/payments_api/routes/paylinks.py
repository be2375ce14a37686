"""The customer's pay-link routes: no login, the signed token in the path is the credential.

A pay link acts for the invoice's issuer, on that one invoice only: read it, pay it (the same
use case as `POST /invoices/{number}/pay`), verify its payment. Rate limited per IP (a
customer's requests never use up the merchant's own allowance).
"""

from __future__ import annotations

from paycore.auth.tokens import Principal, Scope
from paycore.invoices.errors import PayLinkInvalid
from paycore.invoices.models import Invoice
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import Api, get_api, respond
from payments_api.responses import PayLinkView
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


async def _view(api: Api, invoice: Invoice) -> PayLinkView:
    payment = await api.payments.find(invoice.payment_id) if invoice.payment_id else None
    attempts = await api.payments.attempts_of(payment.payment_id) if payment else []
    return PayLinkView.of(invoice, payment, attempts[-1] if attempts else None)


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
