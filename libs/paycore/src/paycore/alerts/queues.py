"""The queue-overload alert: a work queue holding too many messages is an incident."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from paycore.alerts import raise_alert
from paycore.kit.broker import Consumer


async def watch_queues(consumers: Sequence[Consumer], overload: int) -> dict[str, int]:
    """Reads every queue of `consumers` into the queue gauges (the same series each consumer
    reports, so they show while a consumer is stopped or stuck), and raises the queue-overload
    admin alert for a work queue holding `overload` messages or more: once per queue and hour,
    whichever replica sees it. Returns the work queues' depths by queue."""
    depths: dict[str, int] = {}
    for consumer in consumers:
        depth = (await consumer.report_depths())[consumer.name]
        depths[consumer.label] = depth
        if depth >= overload:
            hour = datetime.now(UTC).strftime("%Y%m%dT%H")
            await raise_alert(
                f"queue_overload:{consumer.label}:{hour}",
                "queue_overload",
                "high",
                queue=consumer.label,
                messages=depth,
                threshold=overload,
            )
    return depths
