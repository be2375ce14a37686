"""Webhook metrics: received by result (ingress), and from receipt to applied (processor)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from prometheus_client import Counter, Histogram

from paycore.webhooks.models import WebhookLog, WebhookStatus

# Label values the Prometheus alert rules rely on (infra/prometheus/alerts.yml).
RECEIVED_RESULTS: Final = (
    "accepted",
    "duplicate",
    "invalid_signature",
    "out_of_window",  # also counted as accepted: kept, and confirmed with the gateway
    "malformed",
    "error",
)

WEBHOOKS_RECEIVED = Counter(
    "paycore_webhooks_received_total", "Webhooks received by the ingress, by result.", ["result"]
)
WEBHOOK_PROCESSING = Histogram(
    "paycore_webhook_processing_seconds",
    "From the ingress storing a webhook to the processor having applied it.",
    ["family", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
WEBHOOKS_PROCESSED = Counter(
    "paycore_webhooks_processed_total",
    "Webhooks the processor finished, by event family, final status and outcome.",
    ["family", "status", "outcome"],
)
WEBHOOK_RETRIES = Counter(
    "paycore_webhook_retries_total",
    "Webhook processing attempts that failed and were scheduled again, by attempt number.",
    ["attempt"],
)
WEBHOOKS_DEAD_LETTERED = Counter(
    "paycore_webhooks_dead_lettered_total",
    "Webhooks sent to the dead-letter queue, by reason (exhausted or poison).",
    ["reason"],
)

_FAMILIES: Final = ("PAYMENT", "REFUND", "AUTO_REFUND", "SETTLEMENT", "DISPUTE")


def family(event_type: str) -> str:
    """A bounded label for an event type (types are whatever the sender wrote)."""
    for name in _FAMILIES:
        if event_type.startswith(name):
            return name.lower()
    return "other"


def observe_processed(
    log: WebhookLog, status: WebhookStatus, outcome: str, processed_at: datetime
) -> None:
    received_at = log.received_at if log.received_at.tzinfo else log.received_at.replace(tzinfo=UTC)
    seconds = max(0.0, (processed_at - received_at).total_seconds())
    WEBHOOK_PROCESSING.labels(family(log.event_type), status.value).observe(seconds)
    WEBHOOKS_PROCESSED.labels(family(log.event_type), status.value, outcome).inc()
