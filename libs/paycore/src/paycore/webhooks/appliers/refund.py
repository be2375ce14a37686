"""REFUND_STATUS_WEBHOOK (our refunds) and AUTO_REFUND_STATUS_WEBHOOK (Cashfree's own), both
applied through `RefundService`."""

from __future__ import annotations

from paycore.events.payloads import AutoRefund
from paycore.gateway.schemas import GatewayRefund
from paycore.kit.events import OutboxEvent
from paycore.payments.errors import PaymentNotFound
from paycore.refunds.errors import RefundAmountMismatch
from paycore.refunds.models import RefundStatus
from paycore.refunds.states import RELEASES_RESERVATION
from paycore.webhooks.context import ApplyContext
from paycore.webhooks.models import WebhookLog, WebhookStatus
from paycore.webhooks.outcome import Outcome, admin_alert, discrepancy_of, evidence, orphan
from paycore.webhooks.parsing import AutoRefundEvent, RefundEvent

W = WebhookStatus


async def apply_refund(ctx: ApplyContext, log: WebhookLog, event: RefundEvent) -> Outcome:
    answer = event.refund
    if log.out_of_window:
        answer = await confirmed_refund(ctx, log, answer)
    ours = await ctx.refunds.find(answer.refund_id)
    try:
        refund = await ctx.refunds.apply_gateway_refund(
            answer, evidence(log, cf_refund_id=answer.gateway_refund_id)
        )
    except PaymentNotFound:
        return await orphan(log, answer.order_id, refund_id=answer.refund_id)
    except RefundAmountMismatch as exc:  # alerted where it was found
        return Outcome(
            W.FAILED,
            "amount_mismatch",
            reason="the gateway reports another refund amount or currency than ours",
            order_id=exc.details.get("order_id"),
            payment_id=exc.details.get("payment_id"),
            refund_id=exc.details.get("refund_id"),
            discrepancy=discrepancy_of(exc.details),
        )
    if ours is None:
        outcome = "adopted"
    elif ours.status in RELEASES_RESERVATION and refund.status == RefundStatus.SUCCESS:
        outcome = "contradiction"  # applied and alerted: money left that we thought stayed
    else:
        outcome = "applied"
    return Outcome(
        W.SUCCESS,
        outcome,
        order_id=refund.order_id,
        payment_id=refund.payment_id,
        refund_id=refund.refund_id,
    )


async def confirmed_refund(
    ctx: ApplyContext, log: WebhookLog, answer: GatewayRefund
) -> GatewayRefund:
    """Cashfree's own record of the refund, which wins over the webhook's body."""
    return await ctx.confirmed(
        log.log_id,
        "refund",
        lambda gateway: gateway.get_refund(answer.order_id, answer.refund_id),
    )


async def apply_auto_refund(ctx: ApplyContext, log: WebhookLog, event: AutoRefundEvent) -> Outcome:
    """Cashfree refunded an attempt on its own: recorded as a refund (source AUTO). Of our
    captured attempt it counts against the refundable amount; of a duplicate capture it
    leaves our amounts alone. Either way the customer is emailed and operators alerted."""
    answer = event.refund
    payment = await ctx.payments.find_by_order_id(answer.order_id)
    if payment is None:
        return await orphan(log, answer.order_id, cf_refund_id=answer.gateway_refund_id)
    ours = answer.gateway_payment_id in (payment.cf_payment_id, None)
    cited = evidence(log, cf_refund_id=answer.gateway_refund_id, auto=True)
    try:
        refund = await ctx.refunds.record_auto_refund(answer, event.reason, cited)
    except RefundAmountMismatch as exc:
        return Outcome(
            W.FAILED,
            "amount_mismatch",
            reason="the gateway reports another auto-refund amount than recorded",
            order_id=payment.order_id,
            payment_id=payment.payment_id,
            refund_id=exc.details.get("refund_id"),
        )
    summary = AutoRefund(
        order_id=payment.order_id,
        payment_id=payment.payment_id,
        refund_id=refund.refund_id,
        cf_refund_id=answer.gateway_refund_id,
        cf_payment_id=answer.gateway_payment_id,
        amount=answer.amount_minor,
        currency=answer.currency,
        refund_status=answer.status.value,
        reason=event.reason,
        captured_attempt=ours,
    )
    await admin_alert(
        "gateway_auto_refund_of_captured_payment" if ours else "gateway_auto_refund",
        "high" if ours else "warning",
        log,
        incident=f"{answer.gateway_refund_id}:{answer.status.value}",
        **summary.model_dump(),
    )
    return Outcome(
        W.SUCCESS,
        "applied",
        order_id=payment.order_id,
        payment_id=payment.payment_id,
        refund_id=refund.refund_id,
        events=[OutboxEvent.of("analytics.refund.auto", summary)],
    )
