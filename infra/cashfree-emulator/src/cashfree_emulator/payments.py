"""Payment attempts made through the checkout page or `POST /_emulator/checkout/{session}`."""

import asyncio

from cashfree_emulator.emulator import Emulator
from cashfree_emulator.errors import conflict
from cashfree_emulator.instruments import error_details, instrument
from cashfree_emulator.orders import expire_if_due
from cashfree_emulator.records import Order, Payment
from cashfree_emulator.schemas import PayRequest
from cashfree_emulator.settlements import settle_later
from cashfree_emulator.store import random_digits
from cashfree_emulator.webhook_payloads import payment_event
from cashfree_emulator.wire import now_ist

_MESSAGES = {
    "SUCCESS": "00::Transaction success",
    "FAILED": "Transaction failed",
    "USER_DROPPED": "User dropped and did not complete the two factor authentication",
}


def attempt_payment(emulator: Emulator, order: Order, request: PayRequest) -> Payment:
    """Record an attempt; it reaches its outcome now, or after `delay_ms` while PENDING."""
    expire_if_due(order)
    if order.status == "PAID":
        raise conflict("order_already_paid", "order is already paid")
    if order.status != "ACTIVE":
        raise conflict("order_inactive", f"order is {order.status} and cannot be paid")
    payment = _new_payment(emulator, order, request, status="PENDING")
    if request.delay_ms:
        emulator.spawn(_finish_later(emulator, order, payment, request))
    else:
        finish_payment(emulator, order, payment, request.outcome, request.failure_reason)
    return payment


def record_extra_success(emulator: Emulator, order: Order) -> Payment:
    """A second successful payment on an already paid order (the auto-refund case)."""
    payment = _new_payment(emulator, order, PayRequest(), status="PENDING")
    finish_payment(emulator, order, payment, "SUCCESS", None)
    return payment


def _new_payment(emulator: Emulator, order: Order, request: PayRequest, status: str) -> Payment:
    group, method = instrument(request.payment_method)
    payment = Payment(
        app_id=order.app_id,
        order_id=order.order_id,
        cf_payment_id=emulator.store.next_cf_payment_id(),
        amount=request.amount if request.amount is not None else order.amount,
        currency=order.currency,
        status=status,
        payment_group=group,
        payment_method=method,
        payment_message="Transaction pending",
        payment_time=now_ist(),
    )
    emulator.store.payments[payment.cf_payment_id] = payment
    return payment


async def _finish_later(
    emulator: Emulator, order: Order, payment: Payment, request: PayRequest
) -> None:
    await asyncio.sleep(request.delay_ms / 1000)
    finish_payment(emulator, order, payment, request.outcome, request.failure_reason)


def finish_payment(
    emulator: Emulator,
    order: Order,
    payment: Payment,
    outcome: str,
    failure_reason: str | None,
) -> None:
    payment.status = outcome
    payment.payment_message = _MESSAGES[outcome]
    payment.completion_time = now_ist()
    if outcome == "SUCCESS":
        payment.bank_reference = random_digits(12)
        payment.auth_id = random_digits(6)
        # A success also lands on a terminated order: Cashfree cannot stop an attempt that
        # was already turning successful.
        order.status = "PAID"
        if emulator.config.auto_settle_seconds is not None:
            emulator.spawn(settle_later(emulator, order, emulator.config.auto_settle_seconds))
    elif outcome == "FAILED":
        payment.error_details = error_details(failure_reason)
    emulator.webhooks.emit(
        order.app_id,
        lambda version: payment_event(version, order, payment),
        [order.notify_url],
    )
