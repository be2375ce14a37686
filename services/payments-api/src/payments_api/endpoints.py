"""The API's endpoints as one table: what each takes, answers and refuses. The routes, the
OpenAPI document and API.md's error table are all built from it, so they cannot drift apart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from paycore.auth.errors import ApiKeyRevoked, InsufficientScope, InvalidToken, TokenExpired
from paycore.auth.tokens import Scope
from paycore.fraud.errors import FraudBlocked
from paycore.gateway.errors import GatewayError
from paycore.idempotency.errors import (
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    MissingIdempotencyKey,
    RequestInFlight,
)
from paycore.invoices.errors import (
    CustomerPhoneRequired,
    InvalidCursor,
    InvoiceAlreadyExists,
    InvoiceAlreadyPaid,
    InvoiceAmountMismatch,
    InvoiceNotFound,
    InvoicePaymentInProgress,
    InvoiceTotalsMismatch,
    PayLinkExpired,
    PayLinkInvalid,
)
from paycore.kit.apidocs import by_status
from paycore.kit.errors import (
    AppError,
    ChangedConcurrently,
    DependencyUnavailable,
    InvalidJson,
    InvalidTransition,
    LockNotAcquired,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UnsupportedMediaType,
    ValidationFailed,
)
from paycore.payments.errors import (
    AmountMismatch,
    AmountTooLarge,
    AmountTooSmall,
    CurrencyNotAllowed,
    PaymentNotFound,
    PaymentNotRefundable,
    RefundExceedsPayment,
)
from paycore.reconciliation.errors import ReconciliationItemNotFound, ReconciliationItemNotOpen
from paycore.reconciliation.models import ItemStatus, MismatchKind
from paycore.refunds.errors import RefundNotFound
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payments_api.responses import (
    DeadLetterList,
    InvoiceOut,
    InvoicePage,
    PayLinkView,
    PaymentOut,
    PaymentPage,
    PaymentStatusOut,
    ReconciliationItemList,
    ReconciliationItemOut,
    ReconciliationOut,
    ReconciliationRunOut,
    RefundList,
    RefundOut,
    TimelineOut,
)
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
Errors = tuple[type[AppError], ...]

# Refusals every endpoint may answer, or every endpoint of a kind (added to its own). A path
# whose parameter holds a "/" matches no route: `not_found`.
ANY: Errors = (NotFound, RateLimited, DependencyUnavailable, AppError)
BEARER: Errors = (InvalidToken, TokenExpired, ApiKeyRevoked, InsufficientScope)
WITH_BODY: Errors = (ValidationFailed, InvalidJson, UnsupportedMediaType, PayloadTooLarge)
WITH_QUERY: Errors = (ValidationFailed,)
IDEMPOTENT: Errors = (
    MissingIdempotencyKey,
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    RequestInFlight,
)
PAY_LINK: Errors = (PayLinkInvalid, PayLinkExpired, InvoiceNotFound)
# Answered by the app itself, outside the table: an unknown route or method.
PLATFORM: Errors = (NotFound, MethodNotAllowed, PayloadTooLarge)


def _family(base: type[AppError]) -> Errors:
    found: list[type[AppError]] = [base]
    for sub in base.__subclasses__():
        found += _family(sub)
    return tuple(found)


# What a call to Cashfree may end in (paycore.gateway.errors), and a state change's refusals.
GATEWAY: Errors = _family(GatewayError)
STATE: Errors = (InvalidTransition, ChangedConcurrently, LockNotAcquired)
VERIFY: Errors = (PaymentNotFound, AmountMismatch, *GATEWAY, *STATE)
OPEN_PAYMENT: Errors = (
    CurrencyNotAllowed,
    AmountTooLarge,
    AmountTooSmall,
    FraudBlocked,
    InvoiceNotFound,
    InvoiceAlreadyPaid,
    InvoicePaymentInProgress,
    InvoiceAmountMismatch,
    *GATEWAY,
    *STATE,
)
PAY_INVOICE: Errors = (*OPEN_PAYMENT, CustomerPhoneRequired)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    scope: Scope | None  # None: no bearer token; the pay link's token in the path
    response: type[BaseModel]  # the `data` of a success
    status: int = 200
    body: type[BaseModel] | None = None
    idempotent: bool = False  # needs an Idempotency-Key
    query: tuple[str, ...] = ()
    errors: Errors = ()  # what this endpoint refuses beyond what every endpoint of its kind does
    description: str = ""  # what the summary leaves out: limits, other answers

    def refusals(self) -> list[type[AppError]]:
        """Every error this endpoint may answer, by status then code."""
        kinds = [
            ANY,
            BEARER if self.scope else PAY_LINK,
            WITH_BODY if self.body else (),
            WITH_QUERY if self.query else (),
            IDEMPOTENT if self.idempotent else (),
            self.errors,
        ]
        return by_status(error for kind in kinds for error in kind)


V1 = "/api/v1"


def _listed(values: Iterable[str]) -> str:
    return ", ".join(f"`{value}`" for value in values)


# Order matters: literal paths before the parameterised ones they would otherwise match.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{V1}/payments/create",
        payments.create_payment,
        "Create a payment and its Cashfree order; returns what checkout needs.",
        Scope.WRITE,
        PaymentOut,
        201,
        CreatePaymentIn,
        idempotent=True,
        errors=OPEN_PAYMENT,
        description="`amount` > 0 and at most `PAYMENT_MAX_AMOUNT`; `currency` one of `ALLOWED_CURRENCIES`; "
        "`metadata` at most 20 string pairs, keys `[A-Za-z][A-Za-z0-9_]*`. The payment starts "
        "`PENDING` with `payment_session_id`, `checkout_url`, `environment` and its `risk_flags`; "
        "`200` with the invoice's open payment when `invoice_number` already has one.",
    ),
    Endpoint(
        "POST",
        f"{V1}/payments/verify",
        payments.verify_payment,
        "Ask Cashfree about the order and apply the result; safe to repeat.",
        Scope.WRITE,
        PaymentOut,
        body=VerifyPaymentIn,
        errors=VERIFY,
        description="Exactly one of `payment_id`, `order_id`. Applies what Cashfree reports about the order "
        "and all its attempts (order amount and currency checked); a failed attempt leaves the "
        "payment open while the order is payable. Limited per payment and per user (`429`).",
    ),
    Endpoint(
        "GET",
        f"{V1}/payments/history",
        payments.payment_history,
        "The caller's payments, newest first, with cursor pagination.",
        Scope.READ,
        PaymentPage,
        query=("status", "from", "to", "limit", "cursor"),
        description="`status` a comma list; `from`, `to` an ISO date or date-time (a date `to` includes that "
        "day); `limit` 1-100, default 20.",
    ),
    Endpoint(
        "GET",
        f"{V1}/payments/status/{{order_id}}",
        payments.get_payment_status,
        "A payment's status by order id.",
        Scope.READ,
        PaymentStatusOut,
        errors=(PaymentNotFound,),
    ),
    Endpoint(
        "GET",
        f"{V1}/payments/{{payment_id}}/timeline",
        timeline.payment_timeline,
        "A payment's state history (with evidence) and its gateway attempts.",
        Scope.READ,
        TimelineOut,
        errors=(PaymentNotFound,),
        description="State changes oldest first, and the gateway's attempts on the order.",
    ),
    Endpoint(
        "GET",
        f"{V1}/payments/{{payment_id}}",
        payments.get_payment,
        "A payment.",
        Scope.READ,
        PaymentOut,
        errors=(PaymentNotFound,),
    ),
    Endpoint(
        "POST",
        f"{V1}/refunds/initiate",
        refunds.initiate_refund,
        "Reserve and request a refund (executed asynchronously).",
        Scope.REFUND,
        RefundOut,
        202,
        InitiateRefundIn,
        idempotent=True,
        errors=(
            PaymentNotFound,
            PaymentNotRefundable,
            RefundExceedsPayment,
            AmountMismatch,
            *STATE,
        ),
        description="`amount` omitted: all still refundable. The refund is `INITIATED`; the refund worker "
        "executes it. A payment whose order can still change and whose janitor check is due is "
        "asked of Cashfree first, so a success whose webhook was lost is refundable.",
    ),
    Endpoint(
        "GET",
        f"{V1}/refunds/payment/{{payment_id}}",
        refunds.list_payment_refunds,
        "The refunds of a payment.",
        Scope.READ,
        RefundList,
        errors=(PaymentNotFound,),
    ),
    Endpoint(
        "GET",
        f"{V1}/refunds/{{refund_id}}",
        refunds.get_refund,
        "A refund.",
        Scope.READ,
        RefundOut,
        errors=(RefundNotFound,),
    ),
    Endpoint(
        "POST",
        f"{V1}/invoices",
        invoices.create_invoice,
        "Issue an invoice; subtotal, tax and total are computed and checked.",
        Scope.WRITE,
        InvoiceOut,
        201,
        CreateInvoiceIn,
        idempotent=True,
        errors=(CurrencyNotAllowed, InvoiceTotalsMismatch, InvoiceAlreadyExists),
        description="`invoice_number` unique per issuing user: 1-64 of letters, digits, `_ . -`, starting "
        "with a letter or digit; `tax_rate` a percent with at most 2 decimals. Tax rounds half "
        "up to the paisa; any `subtotal`, `tax`, `total` or item `amount` sent must match.",
    ),
    Endpoint(
        "GET",
        f"{V1}/invoices",
        invoices.list_invoices,
        "The caller's invoices (an admin may filter any by client email).",
        Scope.READ,
        InvoicePage,
        query=("client_email", "status", "limit", "cursor"),
        errors=(InvalidCursor,),
        description="An admin's `client_email` finds every user's invoices for that email.",
    ),
    Endpoint(
        "GET",
        f"{V1}/invoices/{{invoice_number}}",
        invoices.get_invoice,
        "An invoice.",
        Scope.READ,
        InvoiceOut,
        errors=(InvoiceNotFound,),
        description="The caller's invoice of that number (an admin also finds another user's when only one "
        "user has the number).",
    ),
    Endpoint(
        "POST",
        f"{V1}/invoices/{{invoice_number}}/pay",
        invoices.pay_invoice,
        "Create the payment of the invoice total (or get its open one).",
        Scope.WRITE,
        PaymentOut,
        201,
        PayInvoiceIn,
        idempotent=True,
        errors=PAY_INVOICE,
        description="`customer_phone` when the invoice has no client phone. `200` with the open payment if "
        "one exists.",
    ),
    Endpoint(
        "GET",
        f"{V1}/admin/reconciliation",
        admin.reconciliation,
        "The latest reconciliation runs and the mismatches they found (admins).",
        Scope.ADMIN,
        ReconciliationOut,
        query=("limit",),
        description="`limit` 1-50, default 10. A run's `asked_gateway` counts the payments of `checked` "
        "asked about at Cashfree one by one.",
    ),
    Endpoint(
        "GET",
        f"{V1}/admin/reconciliation/items",
        admin.reconciliation_items,
        "Reconciliation items (breaks) by run, status and kind (admins).",
        Scope.ADMIN,
        ReconciliationItemList,
        query=("run_id", "status", "kind", "limit"),
        description=f"`status` one of {_listed(ItemStatus)}; `kind` one of {_listed(MismatchKind)}; `limit` "
        "1-500, default 200. Grouped by kind; `item_id` (`<kind>:<order or refund id>`) is the "
        "same across runs, `detail` gives each differing field as `{ours, gateway}`, `run_id` "
        "is the run that found it first.",
    ),
    Endpoint(
        "POST",
        f"{V1}/admin/reconciliation/items/{{item_id}}/resolve",
        admin.resolve_reconciliation_item,
        "Close an open reconciliation item with a note (admins; audited).",
        Scope.ADMIN,
        ReconciliationItemOut,
        200,
        ResolveItemIn,
        idempotent=True,
        errors=(ReconciliationItemNotFound, ReconciliationItemNotOpen),
        description="`note` 1-500 characters. The item becomes `RESOLVED` with the note; "
        "`409 reconciliation_item_not_open` if it is not open.",
    ),
    Endpoint(
        "POST",
        f"{V1}/admin/reconciliation/runs",
        admin.start_reconciliation,
        "Ask the reconciler for a run of the window [start, end) (admins).",
        Scope.ADMIN,
        ReconciliationRunOut,
        202,
        StartReconciliationIn,
        idempotent=True,
        description="`start`, `end` ISO-8601 with an offset; at most 31 days, not in the future. The run is "
        "`REQUESTED` until the reconciler takes it (within `RECONCILE_INTERVAL_SECONDS`).",
    ),
    Endpoint(
        "GET",
        f"{V1}/admin/dead-letters",
        admin.dead_letters,
        "Dead-lettered webhooks: what they are about and why they failed (admins).",
        Scope.ADMIN,
        DeadLetterList,
        query=("limit",),
        description="`limit` 1-200, default 50. Oldest first, never the body. Replay: "
        "`python -m webhook_processor.ops replay`.",
    ),
    Endpoint(
        "GET",
        f"{V1}/pay-links/{{token}}",
        paylinks.get_pay_link,
        "The invoice a pay link names and its payment (the customer's view; no login).",
        None,
        PayLinkView,
        description="No contact details (`invoice.phone_required` says whether a phone must be sent); "
        "`payment` is the invoice's current payment or null.",
    ),
    Endpoint(
        "POST",
        f"{V1}/pay-links/{{token}}/pay",
        paylinks.pay_pay_link,
        "Open the payment of a pay link's invoice (or get its open one).",
        None,
        PaymentOut,
        201,
        PayInvoiceIn,
        idempotent=True,
        errors=PAY_INVOICE,
        description="As `POST /api/v1/invoices/{invoice_number}/pay`, for the invoice's issuer.",
    ),
    Endpoint(
        "POST",
        f"{V1}/pay-links/{{token}}/verify",
        paylinks.verify_pay_link,
        "Ask Cashfree about a pay link's invoice payment and apply the result.",
        None,
        PayLinkView,
        errors=VERIFY,
    ),
)


def api_routes() -> list[Route]:
    return [
        Route(endpoint.path, endpoint.handler, methods=[endpoint.method]) for endpoint in ENDPOINTS
    ]
