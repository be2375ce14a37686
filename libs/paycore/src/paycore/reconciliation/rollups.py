"""Analytics rollups from the event archive: events per day and type, and a failure-spike
alert. Counts are deduplicated per event id (Redis, 7 days), so redelivery doesn't inflate
them; they are analytics, not money, and live apart from the ledgers.

A failure spike is `failure_spike_per_minute` failed payments that occurred within 60 s of
each other, in whatever order they arrive: any 60 s, not a calendar minute, which would split
a spike straddling one and let it pass unseen. A spike raises one alert per 60 s it lasts (`kit.redis.incident_start`)."""

from __future__ import annotations

import time
from bisect import bisect_left
from datetime import UTC, datetime

from redis.asyncio import Redis

from paycore.alerts import raise_alert
from paycore.kit.events import EventEnvelope
from paycore.kit.mongo import is_duplicate_key
from paycore.kit.redis import incident_start, redis_key
from paycore.reconciliation.models import DailyRollup

SEEN_SECONDS = 7 * 24 * 3600
SPIKE_WINDOW_MS = 60_000
# Failures older than this (by when they occurred) leave the count: a backlog delivered late
# after an outage is not a spike happening now.
SPIKE_HORIZON_MS = 3 * SPIKE_WINDOW_MS


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
            await self._watch_failures(envelope.event_id, occurred)
        return True

    async def _watch_failures(self, event_id: str, occurred: datetime) -> None:
        at = int(occurred.timestamp() * 1000)
        enough = self.failure_spike_per_minute
        key = redis_key(self.prefix, "rollup", "failures")
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(key, {event_id: at})
        pipe.zremrangebyscore(key, "-inf", int(time.time() * 1000) - SPIKE_HORIZON_MS)
        # The `enough` failures nearest this one on each side (itself among the earlier): they
        # hold `enough` in some 60 s with this one if any do, whatever order they arrived in.
        window = SPIKE_WINDOW_MS
        pipe.zrevrangebyscore(key, at, f"({at - window}", start=0, num=enough, withscores=True)
        pipe.zrangebyscore(key, f"({at}", f"({at + window}", start=0, num=enough, withscores=True)
        pipe.pexpire(key, SPIKE_HORIZON_MS)
        _, _, earlier, later, _ = await pipe.execute()
        times = sorted(int(score) for _, score in earlier + later)
        # Each 60 s holding this failure, from an earlier one (or itself) on.
        count = max(
            (
                bisect_left(times, start + window) - i
                for i, start in enumerate(times)
                if start <= at
            ),
            default=0,  # itself already gone: it occurred before the horizon
        )
        if count < enough:
            return
        # Raised again (idempotently) by each failure of the spike, so one that fails to
        # store its alert leaves it to the next.
        started = await incident_start(
            self.redis, redis_key(self.prefix, "rollup", "spike"), SPIKE_WINDOW_MS // 1000
        )
        since = datetime.fromtimestamp(started, UTC).isoformat()
        await raise_alert(
            f"failure-spike:{since}", "payment_failure_spike", since=since, failures=count
        )
