"""One applier per kind of webhook event, chosen by the dispatch table `APPLIERS`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from paycore.webhooks.appliers.dispute import apply_dispute
from paycore.webhooks.appliers.payment import apply_payment
from paycore.webhooks.appliers.refund import apply_auto_refund, apply_refund
from paycore.webhooks.appliers.settlement import apply_settlement
from paycore.webhooks.context import ApplyContext
from paycore.webhooks.models import WebhookLog, WebhookStatus
from paycore.webhooks.outcome import Outcome
from paycore.webhooks.parsing import (
    AutoRefundEvent,
    DisputeEvent,
    PaymentEvent,
    RefundEvent,
    SettlementEvent,
    WebhookEvent,
)

# Each applier takes the event of its own kind (the table pairs them).
Applier = Callable[[ApplyContext, WebhookLog, Any], Awaitable[Outcome]]

APPLIERS: Final[Mapping[type[WebhookEvent], Applier]] = {
    PaymentEvent: apply_payment,
    RefundEvent: apply_refund,
    AutoRefundEvent: apply_auto_refund,
    SettlementEvent: apply_settlement,
    DisputeEvent: apply_dispute,
}


async def apply_event(ctx: ApplyContext, log: WebhookLog, event: WebhookEvent) -> Outcome:
    """Applies the event with its kind's applier; an event of no known kind is ignored."""
    applier = APPLIERS.get(type(event))
    if applier is None:
        reason = f"unhandled event type {log.event_type}"
        return Outcome(WebhookStatus.IGNORED, "ignored", reason=reason)
    return await applier(ctx, log, event)
