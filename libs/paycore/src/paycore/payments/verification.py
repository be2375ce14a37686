"""Asking the gateway what became of a payment and applying its answer.

The verify endpoint, checkout and the reconciler's janitor all use this, so a payment moves the same way
whoever asks. The verdict is the order's, derived from all its attempts so it cannot flap: any
success → SUCCESS; else any pending attempt → PROCESSING; failed attempts are only recorded
(the order stays payable); and the payment closes only when the order did (expired or
terminated).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from loguru import logger

from paycore.alerts import raise_alert
from paycore.audit.models import Actor
from paycore.audit.trail import AuditTrail
from paycore.gateway.interface import PaymentGateway
from paycore.gateway.schemas import GatewayAttemptStatus, GatewayOrderStatus, GatewayPayment
from paycore.kit.state import Evidence
from paycore.payments.errors import AmountMismatch
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.service import PaymentService
from paycore.payments.states import OPEN

CLOSED_ORDERS: Final = {
    GatewayOrderStatus.EXPIRED: PaymentStatus.EXPIRED,
    GatewayOrderStatus.TERMINATED: PaymentStatus.CANCELLED,
}


def attempts_to_apply(attempts: list[GatewayPayment]) -> list[GatewayPayment]:
    """Every attempt in the order its verdict needs: failures first (recorded), then pending
    ones only if nothing succeeded, then the successes (the first one is the capture)."""
    oldest = datetime.min.replace(tzinfo=UTC)
    ordered = sorted(attempts, key=lambda attempt: attempt.initiated_at or oldest)
    succeeded = [a for a in ordered if a.status == GatewayAttemptStatus.SUCCEEDED]
    pending = [a for a in ordered if a.status == GatewayAttemptStatus.PENDING]
    others = [
        a
        for a in ordered
        if a.status not in (GatewayAttemptStatus.SUCCEEDED, GatewayAttemptStatus.PENDING)
    ]
    return [*others, *([] if succeeded else pending), *succeeded]


async def verify_with_gateway(
    gateway: PaymentGateway,
    payments: PaymentService,
    payment: Payment,
    source: str,
    *,
    actor: Actor | None = None,
) -> Payment:
    """Applies what the gateway says about the payment's order; returns the payment after.
    Every path that asks (the verify endpoint, checkout, the janitor) gets the same effects:
    the writes keep the invoice in step, failed attempts reach `on_attempt_failed` (fraud),
    and with an `actor` (someone asked) a status change is audited as `payment.verify`.

    Raises `GatewayNotFound` if the gateway has no such order, and `AmountMismatch` if the
    order or an attempt reports another amount or currency (never applied as a success;
    the operators are alerted once per reported amount).
    """
    try:
        after = await _apply_order(gateway, payments, payment, source)
    except AmountMismatch as exc:
        await _alert_mismatch(payment, exc)
        raise
    if actor is not None and after.status != payment.status:
        await AuditTrail().append(
            actor,
            "payment.verify",
            "payment",
            after.payment_id,
            before={"status": payment.status.value, "captured_amount": payment.captured_amount},
            after={"status": after.status.value, "captured_amount": after.captured_amount},
        )
    return after


async def _alert_mismatch(payment: Payment, mismatch: AmountMismatch) -> None:
    amount = mismatch.details.get("reported_amount")
    currency = mismatch.details.get("reported_currency")
    logger.error("gateway amount differs from ours", paymentId=payment.payment_id)
    await raise_alert(
        f"amount_mismatch:{payment.payment_id}:{amount}:{currency}",
        "amount_mismatch",
        "high",
        **{**payment.summary(), "reported_amount": amount, "reported_currency": currency},
    )


async def _apply_order(
    gateway: PaymentGateway, payments: PaymentService, payment: Payment, source: str
) -> Payment:
    order = await gateway.get_order(payment.order_id)
    if (order.amount_minor, order.currency) != (payment.amount, payment.currency):
        raise AmountMismatch(
            payment_id=payment.payment_id,
            expected_amount=payment.amount,
            expected_currency=payment.currency,
            reported_amount=order.amount_minor,
            reported_currency=order.currency,
        )
    for attempt in attempts_to_apply(await gateway.list_payments(payment.order_id)):
        evidence = Evidence(
            source=source,
            reference=attempt.gateway_payment_id,
            detail={"order_status": order.status.value},
        )
        await payments.apply_attempt(attempt, evidence)
    after = await payments.get(payment.payment_id)
    target = CLOSED_ORDERS.get(order.status)
    if after.status in OPEN and target is not None:
        outcome = await payments.transition(
            after.payment_id,
            target,
            Evidence(source=source, detail={"order": order.status.value}),
            changes={"failure_reason": f"ORDER_{order.status.value}"},
            keep_refused=True,
            expected=frozenset({after.status}),
        )
        after = outcome.payment
    return after
