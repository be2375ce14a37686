"""PAYMENT_* webhooks: one attempt, applied through `PaymentService.apply_attempt`."""

from __future__ import annotations

from typing import Any

from loguru import logger

from paycore.gateway.schemas import GatewayAttemptStatus, GatewayPayment
from paycore.kit.state import (
    Evidence,
    TransitionRecord,
    WriteConflict,
    read_again_after,
    retry_on_conflict,
    written,
)
from paycore.payments.errors import AmountMismatch, PaymentNotFound
from paycore.payments.models import Payment
from paycore.webhooks.context import ApplyContext
from paycore.webhooks.models import WebhookLog, WebhookStatus
from paycore.webhooks.outcome import Outcome, admin_alert, discrepancy_of, evidence, orphan
from paycore.webhooks.parsing import PaymentEvent

W = WebhookStatus


async def apply_payment(ctx: ApplyContext, log: WebhookLog, event: PaymentEvent) -> Outcome:
    attempt = event.attempt
    detail: dict[str, Any] = {"cf_payment_id": attempt.gateway_payment_id}
    # A webhook outside the timestamp window is believed only as far as the gateway
    # confirms it (whatever its status); otherwise successes are confirmed if configured.
    confirm = log.out_of_window or (
        ctx.confirm_with_gateway and attempt.status == GatewayAttemptStatus.SUCCEEDED
    )
    if confirm:
        attempt = await confirmed_attempt(ctx, log, attempt)
        detail |= {"confirmed": True, "confirmed_status": attempt.status.value}
    try:
        result = await ctx.payments.apply_attempt(attempt, evidence(log, **detail))
    except PaymentNotFound:
        return await orphan(log, attempt.order_id, cf_payment_id=attempt.gateway_payment_id)
    except AmountMismatch as exc:
        return await _amount_mismatch(ctx, log, attempt.order_id, exc.details, detail)
    if result.reason == "second_capture" and ctx.refund_extra_captures:
        await ctx.refunds.refund_extra_capture(
            result.payment.payment_id, attempt.gateway_payment_id, by="webhook-processor"
        )
    if result.changed:
        # "contradiction": a success for a payment we held closed, applied and alerted.
        outcome = result.reason if result.reason == "contradiction" else "applied"
    else:
        outcome = result.reason or "no_change"
    return Outcome(
        W.SUCCESS, outcome, order_id=result.payment.order_id, payment_id=result.payment.payment_id
    )


async def confirmed_attempt(
    ctx: ApplyContext, log: WebhookLog, attempt: GatewayPayment
) -> GatewayPayment:
    """Cashfree's own record of the attempt, which wins over the webhook's body."""
    answer = await ctx.confirmed(
        log.log_id,
        "payment",
        lambda gateway: gateway.get_payment(attempt.order_id, attempt.gateway_payment_id),
    )
    if answer.status != attempt.status:
        logger.warning(
            "gateway does not confirm the webhook",
            logId=log.log_id,
            webhook=attempt.status.value,
            gateway=answer.status.value,
        )
    return answer


async def _amount_mismatch(
    ctx: ApplyContext,
    log: WebhookLog,
    order_id: str,
    details: dict[str, Any],
    evidence_detail: dict[str, Any],
) -> Outcome:
    """Never a success: the discrepancy goes on the log and the payment's history, and an
    admin is alerted."""
    discrepancy = discrepancy_of(details)
    payment = await ctx.payments.find_by_order_id(order_id)
    if payment is not None:
        note = "amount mismatch: not applied"
        cited = evidence(log, **evidence_detail, discrepancy=discrepancy)
        await _note_once(ctx, payment, log, note, cited)
    logger.error("webhook amount mismatch", logId=log.log_id, orderId=order_id, **discrepancy)
    await admin_alert(
        "webhook_amount_mismatch",
        "critical",
        log,
        incident=f"{order_id}:{evidence_detail.get('cf_payment_id')}",
        order_id=order_id,
        payment_id=payment.payment_id if payment else None,
        **discrepancy,
    )
    return Outcome(
        W.FAILED,
        "amount_mismatch",
        reason="the gateway reports another amount or currency than the payment's",
        order_id=order_id,
        payment_id=payment.payment_id if payment else None,
        discrepancy=discrepancy,
    )


async def _note_once(
    ctx: ApplyContext, payment: Payment, log: WebhookLog, note: str, cited: Evidence
) -> None:
    """Keeps an event that changes no state in the payment's history, once per log."""
    current = read_again_after(payment, lambda: ctx.payments.get(payment.payment_id))

    async def note_once() -> Payment | WriteConflict | None:
        payment = await current()
        if any(r.evidence.reference == log.log_id for r in payment.history):
            return None
        record = TransitionRecord(
            from_status=payment.status.value,
            to_status=payment.status.value,
            evidence=cited,
            note=note,
        )
        return written(await ctx.payments.repository.record_ignored(payment, record))

    await retry_on_conflict(note_once, payment_id=payment.payment_id)
