"""One applier per kind of webhook event, and the dry run's describer of the same kind, chosen
by the one dispatch table `HANDLERS`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, NamedTuple

from paycore.webhooks.appliers.dispute import apply_dispute
from paycore.webhooks.appliers.payment import apply_payment
from paycore.webhooks.appliers.refund import apply_auto_refund, apply_refund
from paycore.webhooks.appliers.settlement import apply_settlement
from paycore.webhooks.context import ApplyContext
from paycore.webhooks.dry_run import (
    describe_auto_refund,
    describe_dispute,
    describe_payment,
    describe_refund,
    describe_settlement,
)
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


class Handler(NamedTuple):
    # Each takes the event of its own kind (the table pairs them).
    apply: Callable[[ApplyContext, WebhookLog, Any], Awaitable[Outcome]]
    describe: Callable[[ApplyContext, Any], Awaitable[list[str]]]  # the dry run, in words


HANDLERS: Final[Mapping[type[WebhookEvent], Handler]] = {
    PaymentEvent: Handler(apply_payment, describe_payment),
    RefundEvent: Handler(apply_refund, describe_refund),
    AutoRefundEvent: Handler(apply_auto_refund, describe_auto_refund),
    SettlementEvent: Handler(apply_settlement, describe_settlement),
    DisputeEvent: Handler(apply_dispute, describe_dispute),
}


async def apply_event(ctx: ApplyContext, log: WebhookLog, event: WebhookEvent) -> Outcome:
    """Applies the event with its kind's applier; an event of no known kind is ignored."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        reason = f"unhandled event type {log.event_type}"
        return Outcome(WebhookStatus.IGNORED, "ignored", reason=reason)
    return await handler.apply(ctx, log, event)


async def describe_event(ctx: ApplyContext, event_type: str, event: WebhookEvent) -> list[str]:
    """What `apply_event` would do with the event, in words, changing nothing."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        return [f"event type {event_type} is ignored"]
    return await handler.describe(ctx, event)
