from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from loguru import logger
from paycore.alerts import raise_alert
from paycore.auth.tokens import Principal, Scope
from paycore.gateway.errors import GatewayError, GatewayNotFound
from paycore.kit.errors import ValidationFailed
from paycore.kit.parsing import ascii_int
from paycore.money import minimum_amount
from paycore.payments.creation import CustomerDetails, NewPayment
from paycore.payments.errors import AmountMismatch, PaymentNotFound
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.states import CLOSED_UNPAID, OPEN
from paycore.payments.verification import verify_with_gateway
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import Api, Outcome, get_api, read_body, respond
from payments_api.checkout import StillOpen, invoice_payment, open_payment, resume_payment
from payments_api.ratelimit import RateLimited
from payments_api.schemas import (
    CreatePaymentIn,
    VerifyPaymentIn,
    payment_out,
    payment_status_out,
)


class CurrencyNotAllowed(ValidationFailed):
    """This currency is not accepted."""

    code = "currency_not_allowed"


class AmountTooLarge(ValidationFailed):
    """The amount is above the maximum for one payment."""

    code = "amount_too_large"


class AmountTooSmall(ValidationFailed):
    """The amount is below the currency's minimum for one payment (₹1)."""

    code = "amount_too_small"


def out(api: Api, payment: Payment) -> dict[str, Any]:
    return payment_out(
        payment, checkout_base_url=api.settings.checkout_base_url, environment=api.environment
    )


def check_amount(api: Api, amount: int, currency: str) -> None:
    if currency not in api.settings.currency_allow_list:
        raise CurrencyNotAllowed(
            currency=currency, allowed=sorted(api.settings.currency_allow_list)
        )
    if amount > api.settings.payment_max_amount:
        raise AmountTooLarge(maximum=api.settings.payment_max_amount)
    if amount < minimum_amount(currency):
        raise AmountTooSmall(minimum=minimum_amount(currency), currency=currency)


async def owned_payment(api: Api, principal: Principal, payment: Payment | None) -> Payment:
    """Someone else's payment is reported as missing, never as forbidden."""
    if payment is None or (payment.user_id != principal.user_id and not principal.is_admin):
        raise PaymentNotFound()
    return payment


async def create_payment(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.WRITE)
    body, parsed = await read_body(request, CreatePaymentIn)
    check_amount(api, body.amount, body.currency)
    customer = CustomerDetails(
        phone=body.customer.phone,
        customer_id=body.customer.customer_id,
        name=body.customer.name,
        email=body.customer.email,
    )

    async def run(key: str, request_fingerprint: str) -> Outcome:
        # No look-up first for a plain payment: the insert meets the (user, key) unique index
        # if an earlier request made it, and the creator then resumes that one.
        if body.invoice_number is not None:
            existing = await api.creator.existing(principal.user_id, key, request_fingerprint)
            if existing is not None:
                resumed = await resume_payment(api, request, principal, existing, body.return_url)
                return Outcome(201, out(api, resumed.payment), replayed=True)
            fields = await invoice_payment(
                api,
                principal,
                body.invoice_number,
                amount=body.amount,
                currency=body.currency,
                customer=customer,
            )
            if isinstance(fields, StillOpen):
                return Outcome(200, out(api, fields.payment))
        new = NewPayment(
            user_id=principal.user_id,
            idempotency_key=key,
            request_fingerprint=request_fingerprint,
            amount=body.amount,
            currency=body.currency,
            customer=customer,
            invoice_number=body.invoice_number,
            metadata=body.metadata,
            return_url=body.return_url,
        )
        opened = await open_payment(api, request, principal, new, return_url=body.return_url)
        return Outcome(201, out(api, opened.payment), replayed=not opened.created)

    return await api.idempotent(request, principal, "payment", parsed, run)


async def verify_payment(request: Request) -> Response:
    """Asks the gateway about the order and applies what it says; safe to repeat."""
    api = get_api(request)
    principal = await api.guard(request, Scope.WRITE)
    body, _ = await read_body(request, VerifyPaymentIn)
    if body.payment_id is not None:
        found = await api.payments.repository.get(body.payment_id)
    else:
        assert body.order_id is not None
        found = await api.payments.repository.get_by_order_id(body.order_id)
    before = await owned_payment(api, principal, found)
    return respond(out(api, await verify_owned(api, request, principal, before)))


async def verify_owned(
    api: Api, request: Request, principal: Principal, before: Payment
) -> Payment:
    """Asks the gateway about the payment's order, applies and audits what it says, and
    returns the payment as it now is. Raises AmountMismatch (after alerting), and
    `RateLimited` (429) over the per-payment or per-user verify limits."""
    if before.status == PaymentStatus.CREATED:
        return before  # no gateway order yet: nothing to verify
    settings = api.settings
    await api.limiter.spend(
        "verify_payment", before.payment_id, settings.verify_per_payment_per_minute
    )
    await api.limiter.spend("verify_user", principal.user_id, settings.verify_per_user_per_minute)
    try:
        after = await verify_with_gateway(api.gateway, api.payments, before, "verify")
    except GatewayNotFound:
        return before
    except AmountMismatch as exc:
        await _alert_mismatch(
            api, before, exc.details.get("reported_amount"), exc.details.get("reported_currency")
        )
        raise
    # Each attempt that failed since we last looked feeds the repeated-failures check once.
    for _ in set(after.failed_attempts) - set(before.failed_attempts):
        await api.fraud.record_failure(after.user_id, after.customer.email_hash)
    if after.status != before.status:
        await api.audit.append(
            api.actor(request, principal),
            "payment.verify",
            "payment",
            after.payment_id,
            before={"status": before.status.value, "captured_amount": before.captured_amount},
            after={"status": after.status.value, "captured_amount": after.captured_amount},
        )
    return after


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


async def _alert_mismatch(
    api: Api, payment: Payment, amount: int | None, currency: str | None
) -> None:
    logger.error("gateway amount differs from ours", paymentId=payment.payment_id)
    await raise_alert(
        f"amount_mismatch:{payment.payment_id}:{amount}:{currency}",
        "amount_mismatch",
        "high",
        **{**payment.summary(), "reported_amount": amount, "reported_currency": currency},
    )


async def get_payment(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    payment_id = request.path_params["payment_id"]
    payment = await owned_payment(api, principal, await api.payments.repository.get(payment_id))
    return respond(out(api, payment))


async def get_payment_status(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    order_id = request.path_params["order_id"]
    found = await api.payments.repository.get_by_order_id(order_id)
    payment = await owned_payment(api, principal, found)
    return respond(payment_status_out(payment))


async def payment_history(request: Request) -> Response:
    """The caller's payments, newest first; `cursor` is the last payment id of a page."""
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    query = request.query_params
    unknown = set(query.keys()) - {"status", "from", "to", "limit", "cursor"}
    if unknown:
        raise ValidationFailed(unknown_parameters=sorted(unknown))
    statuses = _statuses(query.get("status"))
    limit = _int_param(
        query.get("limit"), "limit", default=20, maximum=api.settings.history_max_page_size
    )
    cursor = query.get("cursor")
    if cursor is not None and not _is_payment_id(cursor):
        raise ValidationFailed("cursor is not a payment id", field="cursor")
    payments = await api.payments.repository.list_for_user(
        principal.user_id,
        statuses=statuses,
        created_from=_instant(query.get("from"), "from"),
        created_to=_instant(query.get("to"), "to", end_of_day=True),
        before_id=cursor,
        limit=limit + 1,
    )
    page = payments[:limit]
    next_cursor = page[-1].payment_id if len(payments) > limit else None
    return respond({"items": [out(api, payment) for payment in page], "next_cursor": next_cursor})


def _statuses(raw: str | None) -> list[PaymentStatus]:
    if not raw:
        return []
    try:
        return [PaymentStatus(part.strip().upper()) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ValidationFailed(
            "unknown status", field="status", allowed=[s.value for s in PaymentStatus]
        ) from None


def _int_param(raw: str | None, name: str, *, default: int, maximum: int) -> int:
    if raw is None:
        return default
    value = ascii_int(raw)
    if value is None or not 1 <= value <= maximum:
        raise ValidationFailed(f"{name} must be 1 to {maximum}", field=name)
    return value


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
