"""Refund metrics, observed where a refund reaches its final status: `RefundService.transition`,
which every path (worker, poller, webhook, reconciler) goes through."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter, Histogram

from paycore.refunds.models import Refund

REFUND_DURATION = Histogram(
    "paycore_refund_duration_seconds",
    "From the refund request to its final state, by outcome.",
    ["outcome"],
    # Instant refunds finish in seconds, standard ones in hours to days.
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600),
)

REFUNDS = Counter(
    "paycore_refunds_total",
    "Refunds that reached a final status, by status (SUCCESS, FAILED, CANCELLED, REVERSED).",
    ["status"],
)


def observe_refund_finished(refund: Refund) -> None:
    """Records how long `refund` took from its request until now, when it reached its final
    status; called once, by the process that moved it there."""
    created = refund.created_at
    if created.tzinfo is None:  # read back by a client without tz_aware
        created = created.replace(tzinfo=UTC)
    elapsed = (datetime.now(UTC) - created).total_seconds()
    REFUND_DURATION.labels(refund.status.value).observe(max(0.0, elapsed))
    REFUNDS.labels(refund.status.value).inc()
