"""Rate limits per user and per IP: fixed one-minute windows in Redis, one round trip."""

from __future__ import annotations

import time

from loguru import logger
from paycore.kit.errors import RateLimited
from paycore.kit.redis import redis_key
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

LIMITED = Counter("paycore_rate_limited_total", "Requests refused by a rate limit.", ["scope"])

WINDOW_SECONDS = 60


class RateLimiter:
    def __init__(self, redis: Redis, *, prefix: str, per_user: int, per_ip: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.limits = {"user": per_user, "ip": per_ip}

    async def spend(self, scope: str, subject: str, limit: int) -> None:
        """Counts one use of an expensive operation by `subject` in this minute's window;
        raises `RateLimited` over `limit` (e.g. verify, which spends the merchant's Cashfree
        quota). A Redis outage lets it through."""
        window = int(time.time()) // WINDOW_SECONDS
        key = redis_key(self.prefix, "ratelimit", scope, subject, window)
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 5)
            count, _ = await pipe.execute()
        except RedisError as exc:
            logger.warning("rate limiter unavailable; allowing", error=repr(exc))
            return
        if int(count) > limit:
            LIMITED.labels(scope).inc()
            raise RateLimited(max(1, (window + 1) * WINDOW_SECONDS - int(time.time())), scope)

    async def check(self, *, ip: str | None, user_id: str | None) -> None:
        """Counts this request against each subject's window; raises `RateLimited` over a limit.
        A Redis outage lets requests through (limits protect us; they are not the truth)."""
        window = int(time.time()) // WINDOW_SECONDS
        subjects = [(scope, value) for scope, value in (("ip", ip), ("user", user_id)) if value]
        if not subjects:
            return
        pipe = self.redis.pipeline(transaction=False)
        for scope, value in subjects:
            key = redis_key(self.prefix, "ratelimit", scope, value, window)
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 5)
        try:
            results = await pipe.execute()
        except RedisError as exc:
            logger.warning("rate limiter unavailable; allowing", error=repr(exc))
            return
        for position, (scope, _) in enumerate(subjects):
            if int(results[position * 2]) > self.limits[scope]:
                LIMITED.labels(scope).inc()
                retry_after = max(1, (window + 1) * WINDOW_SECONDS - int(time.time()))
                raise RateLimited(retry_after, scope)
