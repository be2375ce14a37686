"""The queue-overload alert: a work queue holding too many messages is an incident."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

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
            started = await _overload_start(redis, prefix, consumer.label)
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


async def _overload_start(redis: Redis, prefix: str, label: str) -> int:
    """The second (Unix time) the overload of the queue `label` was first seen."""
    key = redis_key(prefix, "alert", "queue_overload", label)
    try:
        return await incident_start(redis, key, OVERLOAD_ALERT_SECONDS)
    except RedisError as exc:  # the alert still goes out, one per calendar hour
        logger.warning("queue overload start unknown", queue=label, error=repr(exc))
        return int(time.time()) // OVERLOAD_ALERT_SECONDS * OVERLOAD_ALERT_SECONDS
