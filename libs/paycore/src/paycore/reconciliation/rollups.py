"""Analytics rollups from the event archive: events per day and type, and a failure-spike
alert. Counts are deduplicated per event id (Redis, 7 days), so redelivery doesn't inflate
them; they are analytics, not money, and live apart from the ledgers."""

from __future__ import annotations

from datetime import UTC

from redis.asyncio import Redis

from paycore.alerts import raise_alert
from paycore.kit.events import EventEnvelope
from paycore.kit.mongo import is_duplicate_key
from paycore.kit.redis import redis_key
from paycore.reconciliation.models import DailyRollup

SEEN_SECONDS = 7 * 24 * 3600


class RollupRecorder:
    def __init__(self, redis: Redis, prefix: str = "", failure_spike_per_minute: int = 20) -> None:
        self.redis = redis
        self.prefix = prefix
        self.failure_spike_per_minute = failure_spike_per_minute

    async def record(self, envelope: EventEnvelope) -> bool:
        """Counts the event once; False if it was counted before."""
        seen = await self.redis.set(
            redis_key(self.prefix, "rollup", "seen", envelope.event_id), 1, nx=True, ex=SEEN_SECONDS
        )
        if not seen:
            return False
        occurred = envelope.occurred_at.astimezone(UTC)
        amount = envelope.data.get("amount")
        increment = {"events": 1, "amount_total": amount if isinstance(amount, int) else 0}
        key = {"day": occurred.date().isoformat(), "event_type": envelope.type}
        collection = DailyRollup.get_pymongo_collection()
        for _ in range(2):  # two first upserts can race on the unique key; the loser retries
            try:
                await collection.update_one(key, {"$inc": increment}, upsert=True)
                break
            except Exception as exc:
                if not is_duplicate_key(exc):
                    raise
        if envelope.type == "payment.failed":
            await self._watch_failures(occurred.strftime("%Y-%m-%dT%H:%M"))
        return True

    async def _watch_failures(self, minute: str) -> None:
        key = redis_key(self.prefix, "rollup", "failures", minute)
        count = await self.redis.incr(key)
        await self.redis.expire(key, 180)
        if count == self.failure_spike_per_minute:
            await raise_alert(
                f"failure-spike:{minute}",
                "payment_failure_spike",
                minute=minute,
                failures=count,
            )
