"""Rate limits per user and per IP: fixed one-minute windows in Redis, one round trip (one
script counting every window of the request: `COUNT`)."""

from __future__ import annotations

import time
from typing import Final

from loguru import logger
from paycore.kit.errors import RateLimited
from paycore.kit.redis import redis_key
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

LIMITED = Counter("paycore_rate_limited_total", "Requests refused by a rate limit.", ["scope"])

WINDOW_SECONDS = 60

# KEYS: the windows to count in; ARGV[1]: their expiry (s). INCR then EXPIRE each, as a
# pipeline of two commands per window would, in one command; returns the counts in key order.
COUNT: Final = """
local counts = {}
for i = 1, #KEYS do
  counts[i] = redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[1])
end
return counts
"""


class RateLimiter:
    def __init__(self, redis: Redis, *, prefix: str, per_user: int, per_ip: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.limits = {"user": per_user, "ip": per_ip}
        self._count = redis.register_script(COUNT)

    async def spend(self, scope: str, subject: str, limit: int) -> None:
        """Counts one use of an expensive operation by `subject` in this minute's window;
        raises `RateLimited` over `limit` (e.g. verify, which spends the merchant's Cashfree
        quota). A Redis outage lets it through."""
        window = int(time.time()) // WINDOW_SECONDS
        key = redis_key(self.prefix, "ratelimit", scope, subject, window)
        try:
            [count] = await self._count(keys=[key], args=[WINDOW_SECONDS + 5])
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
        keys = [
            redis_key(self.prefix, "ratelimit", scope, value, window) for scope, value in subjects
        ]
        try:
            counts = await self._count(keys=keys, args=[WINDOW_SECONDS + 5])
        except RedisError as exc:
            logger.warning("rate limiter unavailable; allowing", error=repr(exc))
            return
        for (scope, _), count in zip(subjects, counts, strict=True):
            if int(count) > self.limits[scope]:
                LIMITED.labels(scope).inc()
                retry_after = max(1, (window + 1) * WINDOW_SECONDS - int(time.time()))
                raise RateLimited(retry_after, scope)
