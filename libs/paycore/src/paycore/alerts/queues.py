"""The queue-overload alert: a work queue holding too many messages is an incident."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis

from paycore.alerts import raise_alert
from paycore.kit.broker import Consumer
from paycore.kit.redis import incident_start, redis_key

# One alert per queue and incident hour: a reminder each hour a backlog lasts.
OVERLOAD_ALERT_SECONDS = 3600


async def watch_queues(
    consumers: Sequence[Consumer], overload: int, redis: Redis, prefix: str
) -> dict[str, int]:
    """Reads every queue of `consumers` into the queue gauges (the same series each consumer
    reports, so they show while a consumer is stopped or stuck), and raises the queue-overload
    admin alert for a work queue holding `overload` messages or more: once per queue and hour
    from the overload's first sighting (`kit.redis.incident_start`, under `prefix`), whichever
    replica sees it, so an overload straddling a calendar hour is one incident. Returns the
    work queues' depths by queue."""
    depths: dict[str, int] = {}
    for consumer in consumers:
        depth = (await consumer.report_depths())[consumer.name]
        depths[consumer.label] = depth
        if depth >= overload:
            key = redis_key(prefix, "alert", "queue_overload", consumer.label)
            started = await incident_start(redis, key, OVERLOAD_ALERT_SECONDS)
            since = datetime.fromtimestamp(started, UTC).isoformat()
            await raise_alert(
                f"queue_overload:{consumer.label}:{since}",
                "queue_overload",
                "high",
                queue=consumer.label,
                messages=depth,
                threshold=overload,
            )
    return depths
