"""The API's endpoints as one table: the routes and the OpenAPI document are both built from
it, so they cannot drift apart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from paycore.auth.tokens import Scope
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payments_api.routes import admin, invoices, paylinks, payments, refunds, timeline
from payments_api.schemas import (
    CreateInvoiceIn,
    CreatePaymentIn,
    InitiateRefundIn,
    PayInvoiceIn,
    ResolveItemIn,
    StartReconciliationIn,
    VerifyPaymentIn,
)

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    scope: Scope | None  # None: no bearer token; the pay link's token in the path
    status: int = 200
    body: type[BaseModel] | None = None
    idempotent: bool = False  # needs an Idempotency-Key
    query: tuple[str, ...] = ()


V1 = "/api/v1"

# Order matters: literal paths before the parameterised ones they would otherwise match.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{V1}/payments/create",
        payments.create_payment,
        "Create a payment and its Cashfree order; returns what checkout needs.",
        Scope.WRITE,
        201,
        CreatePaymentIn,
        idempotent=True,
    ),
    Endpoint(
        "POST",
        f"{V1}/payments/verify",
        payments.verify_payment,
        "Ask Cashfree about the order and apply the result; safe to repeat.",
        Scope.WRITE,
        body=VerifyPaymentIn,
    ),
    Endpoint(
        "GET",
        f"{V1}/payments/history",
        payments.payment_history,
        "The caller's payments, newest first, with cursor pagination.",
        Scope.READ,
        query=("status", "from", "to", "limit", "cursor"),
    ),
    Endpoint(
        "GET",
        f"{V1}/payments/status/{{order_id}}",
        payments.get_payment_status,
        "A payment's status by order id.",
        Scope.READ,
    ),
    Endpoint(
        "GET",
        f"{V1}/payments/{{payment_id}}/timeline",
        timeline.payment_timeline,
        "A payment's state history (with evidence) and its gateway attempts.",
        Scope.READ,
    ),
    Endpoint(
        "GET",
        f"{V1}/payments/{{payment_id}}",
        payments.get_payment,
        "A payment.",
        Scope.READ,
    ),
    Endpoint(
        "POST",
        f"{V1}/refunds/initiate",
        refunds.initiate_refund,
        "Reserve and request a refund (executed asynchronously).",
        Scope.REFUND,
        202,
        InitiateRefundIn,
        idempotent=True,
    ),
    Endpoint(
        "GET",
        f"{V1}/refunds/payment/{{payment_id}}",
        refunds.list_payment_refunds,
        "The refunds of a payment.",
        Scope.READ,
    ),
    Endpoint(
        "GET",
        f"{V1}/refunds/{{refund_id}}",
        refunds.get_refund,
        "A refund.",
        Scope.READ,
    ),
    Endpoint(
        "POST",
        f"{V1}/invoices",
        invoices.create_invoice,
        "Issue an invoice; subtotal, tax and total are computed and checked.",
        Scope.WRITE,
        201,
        CreateInvoiceIn,
        idempotent=True,
    ),
    Endpoint(
        "GET",
        f"{V1}/invoices",
        invoices.list_invoices,
        "The caller's invoices (an admin may filter any by client email).",
        Scope.READ,
        query=("client_email", "status", "limit", "cursor"),
    ),
    Endpoint(
        "GET",
        f"{V1}/invoices/{{invoice_number}}",
        invoices.get_invoice,
        "An invoice.",
        Scope.READ,
    ),
    Endpoint(
        "POST",
        f"{V1}/invoices/{{invoice_number}}/pay",
        invoices.pay_invoice,
        "Create the payment of the invoice total (or get its open one).",
        Scope.WRITE,
        201,
        PayInvoiceIn,
        idempotent=True,
    ),
    Endpoint(
        "GET",
        f"{V1}/admin/reconciliation",
        admin.reconciliation,
        "The latest reconciliation runs and the mismatches they found (admins).",
        Scope.ADMIN,
        query=("limit",),
    ),
    Endpoint(
        "GET",
        f"{V1}/admin/reconciliation/items",
        admin.reconciliation_items,
        "Reconciliation items (breaks) by run, status and kind (admins).",
        Scope.ADMIN,
        query=("run_id", "status", "kind", "limit"),
    ),
    Endpoint(
        "POST",
        f"{V1}/admin/reconciliation/items/{{item_id}}/resolve",
        admin.resolve_reconciliation_item,
        "Close an open reconciliation item with a note (admins; audited).",
        Scope.ADMIN,
        200,
        ResolveItemIn,
        idempotent=True,
    ),
    Endpoint(
        "POST",
        f"{V1}/admin/reconciliation/runs",
        admin.start_reconciliation,
        "Ask the reconciler for a run of the window [start, end) (admins).",
        Scope.ADMIN,
        202,
        StartReconciliationIn,
        idempotent=True,
    ),
    Endpoint(
        "GET",
        f"{V1}/admin/dead-letters",
        admin.dead_letters,
        "Dead-lettered webhooks: what they are about and why they failed (admins).",
        Scope.ADMIN,
        query=("limit",),
    ),
    Endpoint(
        "GET",
        f"{V1}/pay-links/{{token}}",
        paylinks.get_pay_link,
        "The invoice a pay link names and its payment (the customer's view; no login).",
        None,
    ),
    Endpoint(
        "POST",
        f"{V1}/pay-links/{{token}}/pay",
        paylinks.pay_pay_link,
        "Open the payment of a pay link's invoice (or get its open one).",
        None,
        201,
        PayInvoiceIn,
        idempotent=True,
    ),
    Endpoint(
        "POST",
        f"{V1}/pay-links/{{token}}/verify",
        paylinks.verify_pay_link,
        "Ask Cashfree about a pay link's invoice payment and apply the result.",
        None,
    ),
)


def api_routes() -> list[Route]:
    return [
        Route(endpoint.path, endpoint.handler, methods=[endpoint.method]) for endpoint in ENDPOINTS
    ]
