"""SETTLEMENT_* webhooks: the settlement rules live in `paycore.payments.settlement`; this
applies them and says what happened."""

from __future__ import annotations

from paycore.payments.settlement import (
    ALERTED_STAGES,
    UNMATCHED_IS_NORMAL,
    record_settlement,
    settled_payments,
)
from paycore.webhooks.context import ApplyContext
from paycore.webhooks.models import WebhookLog, WebhookStatus
from paycore.webhooks.outcome import Outcome, admin_alert
from paycore.webhooks.parsing import SettlementEvent

W = WebhookStatus


async def apply_settlement(ctx: ApplyContext, log: WebhookLog, event: SettlementEvent) -> Outcome:
    payments = await settled_payments(ctx.payments, ctx.gateway, event.settlement)
    settlement_id = event.settlement.gateway_settlement_id
    if not payments:
        if event.status in UNMATCHED_IS_NORMAL:
            return Outcome(W.SUCCESS, "unmatched", reason="no payment known for settlement")
        await admin_alert(
            "settlement_unmatched",
            "high",
            log,
            incident=f"{settlement_id}:{event.status.value}",
            cf_settlement_id=settlement_id,
        )
        return Outcome(W.ORPHANED, "orphan", reason="no payment known for this settlement")
    changed = 0
    for payment in payments:
        changed += await record_settlement(ctx.payments, payment, event.status, event.settlement)
        if event.status in ALERTED_STAGES:
            await admin_alert(
                f"settlement_{event.status.value.lower()}",
                "high",
                log,
                incident=f"{settlement_id}:{payment.payment_id}",
                payment_id=payment.payment_id,
                order_id=payment.order_id,
                cf_settlement_id=settlement_id,
            )
    one = payments[0] if len(payments) == 1 else None
    return Outcome(
        W.SUCCESS,
        "applied" if changed else "duplicate",
        order_id=one.order_id if one else None,
        payment_id=one.payment_id if one else None,
    )
