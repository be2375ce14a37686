from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from loguru import logger
from paycore.auth.tokens import Principal, Scope
from paycore.gateway.errors import GatewayError, GatewayNotFound
from paycore.kit.errors import RateLimited, ValidationFailed
from paycore.money import minimum_amount
from paycore.payments.checkout import AmountCheck, Checked, CheckoutResult, PaymentOrder
from paycore.payments.creation import CustomerDetails
from paycore.payments.errors import (
    AmountTooLarge,
    AmountTooSmall,
    CurrencyNotAllowed,
    PaymentNotFound,
)
from paycore.payments.models import HistoryQuery, Payment, PaymentStatus
from paycore.payments.states import CLOSED_UNPAID, OPEN
from paycore.payments.verification import verify_with_gateway
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import Api, Outcome, get_api, int_param, query_of, read_body, respond
from payments_api.responses import PaymentOut, PaymentPage, PaymentStatusOut
from payments_api.schemas import CreatePaymentIn, VerifyPaymentIn
from payments_api.settings import Settings


def out(api: Api, payment: Payment) -> PaymentOut:
    return PaymentOut.of(
        payment, checkout_base_url=api.settings.checkout_base_url, environment=api.environment
    )


def amount_check(settings: Settings) -> AmountCheck:
    """The merchant's limits on one payment (`CURRENCY_ALLOW_LIST`, `PAYMENT_MAX_AMOUNT`, the
    currency's minimum), for checkout."""

    def check(amount: int, currency: str) -> None:
        if currency not in settings.currency_allow_list:
            raise CurrencyNotAllowed(
                currency=currency, allowed=sorted(settings.currency_allow_list)
            )
        if amount > settings.payment_max_amount:
            raise AmountTooLarge(maximum=settings.payment_max_amount)
        if amount < minimum_amount(currency):
            raise AmountTooSmall(minimum=minimum_amount(currency), currency=currency)

    return check


async def owned_payment(api: Api, principal: Principal, payment: Payment | None) -> Payment:
    """Someone else's payment is reported as missing, never as forbidden."""
    if payment is None or (payment.user_id != principal.user_id and not principal.is_admin):
        raise PaymentNotFound()
    return payment


async def create_payment(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.WRITE)
    body, parsed = await read_body(request, CreatePaymentIn)
    api.checkout.check_amount(body.amount, body.currency)
    order = PaymentOrder(
        amount=body.amount,
        currency=body.currency,
        customer=CustomerDetails(
            phone=body.customer.phone,
            customer_id=body.customer.customer_id,
            name=body.customer.name,
            email=body.customer.email,
        ),
        invoice_number=body.invoice_number,
        metadata=body.metadata,
        return_url=body.return_url,
    )
    caller = api.caller(request, principal)

    async def run(key: str, request_fingerprint: str) -> Outcome:
        result = await api.checkout.create_payment(caller, key, request_fingerprint, order)
        return checkout_outcome(api, result)

    return await api.idempotent(request, principal, "payment", parsed, run)


def checkout_outcome(api: Api, result: CheckoutResult) -> Outcome:
    """201 for a payment made (replayed when an earlier request made it), 200 for the
    invoice's payment still open."""
    if result.outcome == Checked.STILL_OPEN:
        return Outcome(200, out(api, result.payment))
    return Outcome(201, out(api, result.payment), replayed=result.outcome == Checked.RESUMED)


async def verify_payment(request: Request) -> Response:
    """Asks the gateway about the order and applies what it says; safe to repeat."""
    api = get_api(request)
    principal = await api.guard(request, Scope.WRITE)
    body, _ = await read_body(request, VerifyPaymentIn)
    if body.payment_id is not None:
        found = await api.payments.find(body.payment_id)
    else:
        assert body.order_id is not None
        found = await api.payments.find_by_order_id(body.order_id)
    before = await owned_payment(api, principal, found)
    return respond(out(api, await verify_owned(api, request, principal, before)))


async def verify_owned(
    api: Api, request: Request, principal: Principal, before: Payment
) -> Payment:
    """Asks the gateway about the payment's order, applies and audits what it says, and
    returns the payment as it now is (`verify_with_gateway`). Raises AmountMismatch (after
    alerting), and `RateLimited` (429) over the per-payment or per-user verify limits."""
    if before.status == PaymentStatus.CREATED:
        return before  # no gateway order yet: nothing to verify
    settings = api.settings
    await api.limiter.spend(
        ("verify_payment", before.payment_id, settings.verify_per_payment_per_minute),
        ("verify_user", principal.user_id, settings.verify_per_user_per_minute),
    )
    try:
        return await verify_with_gateway(
            api.gateway, api.payments, before, "verify", actor=api.actor(request, principal)
        )
    except GatewayNotFound:
        return before


async def up_to_date(api: Api, request: Request, principal: Principal, payment: Payment) -> Payment:
    """The payment, re-checked with the gateway first when it is out of date (its order can
    still change and the janitor's next check is due: a lost webhook, say), so nothing acts
    on a stale state. A check that can't be made (gateway away, verify limits) leaves the
    payment as stored: the operation then decides on what we know."""
    due = payment.recheck.due_at
    if payment.status not in OPEN | CLOSED_UNPAID or due is None or due > datetime.now(UTC):
        return payment
    try:
        return await verify_owned(api, request, principal, payment)
    except (GatewayError, RateLimited) as exc:
        logger.warning("out-of-date payment not re-checked", error=repr(exc)[:200])
        return payment


async def get_payment(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    payment_id = request.path_params["payment_id"]
    payment = await owned_payment(api, principal, await api.payments.find(payment_id))
    return respond(out(api, payment))


async def get_payment_status(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    order_id = request.path_params["order_id"]
    found = await api.payments.find_by_order_id(order_id)
    payment = await owned_payment(api, principal, found)
    return respond(PaymentStatusOut.model_validate(payment))


async def payment_history(request: Request) -> Response:
    """The caller's payments, newest first; `cursor` is the last payment id of a page."""
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    query = query_of(request, "status", "from", "to", "limit", "cursor")
    statuses = _statuses(query.get("status"))
    limit = int_param(
        query.get("limit"), "limit", default=20, maximum=api.settings.history_max_page_size
    )
    cursor = query.get("cursor")
    if cursor is not None and not _is_payment_id(cursor):
        raise ValidationFailed("cursor is not a payment id", field="cursor")
    history = HistoryQuery(
        statuses=tuple(statuses),
        created_from=_instant(query.get("from"), "from"),
        created_to=_instant(query.get("to"), "to", end_of_day=True),
        before_id=cursor,
        limit=limit + 1,
    )
    payments = await api.payments.list_for_user(principal.user_id, history)
    page = payments[:limit]
    next_cursor = page[-1].payment_id if len(payments) > limit else None
    return respond(
        PaymentPage(items=[out(api, payment) for payment in page], next_cursor=next_cursor)
    )


def _statuses(raw: str | None) -> list[PaymentStatus]:
    if not raw:
        return []
    try:
        return [PaymentStatus(part.strip().upper()) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ValidationFailed(
            "unknown status", field="status", allowed=[s.value for s in PaymentStatus]
        ) from None


def _instant(raw: str | None, name: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO date (whole day) or date-time; naive times are UTC."""
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            start = datetime.combine(date.fromisoformat(raw), time.min, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be an ISO date or date-time", field=name) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _is_payment_id(value: str) -> bool:
    return len(value) == 30 and value.startswith("pay_") and value[4:].isalnum()
