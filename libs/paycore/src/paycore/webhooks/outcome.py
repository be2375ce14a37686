"""What applying a webhook did (written onto its log), and the pieces every applier uses to
say it: the evidence it cites, the alert it raises, the orphan and mismatch outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from paycore.alerts import raise_alert
from paycore.kit.events import OutboxEvent
from paycore.kit.state import Evidence
from paycore.webhooks.models import WebhookLog, WebhookStatus

W = WebhookStatus

# The amounts an amount mismatch reports (minor units), from the error's details.
DISCREPANCY_KEYS = ("expected_amount", "expected_currency", "reported_amount", "reported_currency")


@dataclass
class Outcome:
    """What applying a webhook did, written onto its log."""

    status: WebhookStatus
    # applied | duplicate | refused | no_change | orphan | amount_mismatch | contradiction |
    # attempt_failed | second_capture | …
    outcome: str
    reason: str | None = None
    order_id: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    discrepancy: dict[str, Any] | None = None
    events: list[OutboxEvent] = field(default_factory=list)


def discrepancy_of(details: dict[str, Any]) -> dict[str, Any]:
    return {key: details.get(key) for key in DISCREPANCY_KEYS}


def evidence(log: WebhookLog, **detail: Any) -> Evidence:
    """The webhook as evidence for a state change: its log, type and event id."""
    return Evidence(
        source="webhook",
        reference=log.log_id,
        detail={"event_type": log.event_type, "event_id": log.event_id, **detail},
    )


async def admin_alert(
    alert: str, severity: str, log: WebhookLog, *, incident: str | None = None, **data: Any
) -> None:
    """Raises the alert once per incident: `incident` names it (an order, a refund, an
    attempt); without one, the webhook itself (its event id, else its log) is the incident."""
    await raise_alert(
        f"{alert}:{incident or log.event_id or log.log_id}",
        alert,
        severity,
        log_id=log.log_id,
        event_type=log.event_type,
        **data,
    )


async def orphan(log: WebhookLog, order_id: str | None, **detail: Any) -> Outcome:
    """A webhook for an order we do not know: kept, alerted, never applied."""
    logger.warning("webhook for an unknown order", logId=log.log_id, orderId=order_id)
    await admin_alert("webhook_unknown_order", "high", log, order_id=order_id, **detail)
    return Outcome(W.ORPHANED, "orphan", reason="no payment for this order", order_id=order_id)
