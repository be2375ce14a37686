"""DISPUTE_* webhooks: applied through `DisputeService` (hold, release or pay out)."""

from __future__ import annotations

from paycore.payments.errors import PaymentNotFound
from paycore.webhooks.context import ApplyContext
from paycore.webhooks.models import WebhookLog, WebhookStatus
from paycore.webhooks.outcome import Outcome, evidence, orphan
from paycore.webhooks.parsing import DisputeEvent

W = WebhookStatus


async def apply_dispute(ctx: ApplyContext, log: WebhookLog, event: DisputeEvent) -> Outcome:
    """Stored with its respond_by deadline; the disputed amount is held while open,
    released when won, paid out when lost (`DisputeService`); alerted per stage."""
    answer = event.dispute
    cited = evidence(log, dispute_id=answer.dispute_id, status=answer.status)
    try:
        applied = await ctx.disputes.apply(answer, cited)
    except PaymentNotFound:
        return await orphan(log, answer.order_id, dispute_id=answer.dispute_id)
    return Outcome(
        W.SUCCESS,
        "applied" if applied.changed else "duplicate",
        order_id=applied.payment.order_id,
        payment_id=applied.payment.payment_id,
    )
