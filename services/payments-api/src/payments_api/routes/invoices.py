from __future__ import annotations

from paycore.auth.tokens import Principal, Scope
from paycore.invoices.models import InvoiceStatus
from paycore.invoices.service import ClientDetails, DraftItem, InvoiceDraft
from paycore.kit.errors import ValidationFailed
from paycore.kit.parsing import ascii_int
from paycore.payments.errors import CurrencyNotAllowed
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import Api, Outcome, get_api, query_of, read_body, respond
from payments_api.responses import InvoicePage
from payments_api.routes.payments import checkout_outcome
from payments_api.schemas import CreateInvoiceIn, PayInvoiceIn


async def create_invoice(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.WRITE)
    body, parsed = await read_body(request, CreateInvoiceIn)
    if body.currency not in api.settings.currency_allow_list:
        raise CurrencyNotAllowed(currency=body.currency)
    draft = InvoiceDraft(
        invoice_number=body.invoice_number,
        currency=body.currency,
        issue_date=body.issue_date,
        due_date=body.due_date,
        client=ClientDetails(
            name=body.client.name,
            email=body.client.email,
            phone=body.client.phone,
            address=body.client.address,
        ),
        items=[
            DraftItem(item.description, item.quantity, item.unit_price, item.amount)
            for item in body.items
        ],
        tax_rate_bps=body.tax_rate_bps,
        notes=body.notes,
        subtotal=body.subtotal,
        tax=body.tax,
        total=body.total,
    )

    async def run(key: str, request_fingerprint: str) -> Outcome:
        invoice, created = await api.invoices.create(
            principal.user_id, draft, idempotency_key=key, request_fingerprint=request_fingerprint
        )
        return Outcome(201, api.invoice_view(invoice), replayed=not created)

    return await api.idempotent(request, principal, "invoice", parsed, run)


async def list_invoices(request: Request) -> Response:
    """The caller's invoices, newest first; an admin filtering by client_email sees all."""
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    query = query_of(request, "client_email", "status", "limit", "cursor")
    limit = ascii_int(query.get("limit", "20"))
    if limit is None or not 1 <= limit <= api.settings.history_max_page_size:
        raise ValidationFailed("limit out of range", field="limit")
    cursor = query.get("cursor")
    if cursor is not None and not 0 < len(cursor) <= 400:  # an invoice key: encoded user:number
        raise ValidationFailed("invalid cursor", field="cursor")
    try:
        statuses = [
            InvoiceStatus(part.strip().upper())
            for part in query.get("status", "").split(",")
            if part.strip()
        ]
    except ValueError:
        raise ValidationFailed("unknown status", field="status") from None
    client_email = query.get("client_email")
    if client_email is not None and (len(client_email) > 100 or "@" not in client_email):
        raise ValidationFailed("client_email is not an email address", field="client_email")
    invoices = await api.invoices.list_for(
        principal.user_id,
        admin=principal.is_admin,
        client_email=client_email,
        statuses=statuses,
        before=cursor,
        limit=limit + 1,
    )
    page = invoices[:limit]
    next_cursor = str(page[-1].id) if len(invoices) > limit else None
    return respond(
        InvoicePage(items=[api.invoice_view(invoice) for invoice in page], next_cursor=next_cursor)
    )


async def get_invoice(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    invoice = await api.invoices.get_for(
        principal.user_id, request.path_params["invoice_number"], admin=principal.is_admin
    )
    return respond(api.invoice_view(invoice))


async def pay_invoice(request: Request) -> Response:
    """Creates the payment of the invoice total (or returns its payment still open)."""
    api = get_api(request)
    principal = await api.guard(request, Scope.WRITE)
    return await pay_as(api, request, principal, request.path_params["invoice_number"])


async def pay_as(
    api: Api,
    request: Request,
    principal: Principal,
    invoice_number: str,
    *,
    namespace: str = "payment",
    key_prefix: str = "",
) -> Response:
    """Pays `invoice_number` on behalf of `principal` (its issuer), idempotently: the payment
    of the invoice total, or its payment still open. `namespace` and `key_prefix` keep the
    keys of another caller (a pay link's customer) apart from the issuer's own."""
    body, parsed = await read_body(request, PayInvoiceIn, optional=True)
    caller = api.caller(request, principal)

    async def run(raw_key: str, request_fingerprint: str) -> Outcome:
        result = await api.checkout.pay_invoice(
            caller,
            key_prefix + raw_key,
            request_fingerprint,
            invoice_number,
            phone=body.customer_phone,
            return_url=body.return_url,
        )
        return checkout_outcome(api, result)

    return await api.idempotent(request, principal, namespace, parsed, run)
