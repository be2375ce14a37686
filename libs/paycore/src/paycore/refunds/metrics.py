"""Refund metrics, shared by every process that finishes refunds (worker, webhook processor)."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Histogram

from paycore.refunds.models import Refund

REFUND_DURATION = Histogram(
    "paycore_refund_duration_seconds",
    "From the refund request to its final state, by outcome.",
    ["outcome"],
    # Instant refunds finish in seconds, standard ones in hours to days.
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600),
)


def observe_refund_finished(refund: Refund) -> None:
    """Records how long `refund` took from its request until now, when it reached its final
    status; called once, by the process that moved it there."""
    created = refund.created_at
    if created.tzinfo is None:  # read back by a client without tz_aware
        created = created.replace(tzinfo=UTC)
    elapsed = (datetime.now(UTC) - created).total_seconds()
    REFUND_DURATION.labels(refund.status.value).observe(max(0.0, elapsed))
