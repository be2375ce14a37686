"""Rate limits per user and per IP, and per subject of an expensive operation (`spend`): never
more than the limit accepted per subject in any 60 s, however the requests fall against the
clock's minutes (fixed one-minute windows let twice the limit through across a boundary).

Each subject's key holds a sliding log: a sorted set of its accepted requests scored by their
time in ms. One round trip per request, one script (`ADMIT`), atomic for all the request's keys:
it drops the entries older than the window, refuses if any key already holds its limit and
then records nothing (a refused request neither counts nor extends the block, and the client
that waits its `Retry-After` is accepted), else records the request in every key."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from loguru import logger
from paycore.kit.errors import RateLimited
from paycore.kit.redis import log_member, redis_key
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

LIMITED = Counter("paycore_rate_limited_total", "Requests refused by a rate limit.", ["scope"])

WINDOW_SECONDS: Final = 60

# KEYS: one log per subject. ARGV (ms, computed by the caller: Lua's numbers print with 14
# digits): member, now, cutoff (now - window), window, then each key's limit. A full key's
# wait is until its entry at count - limit leaves the window (then fewer than limit remain).
# Returns {0} once the request is in every log, else {i, wait ms} for the full key (1-based)
# with the longest wait.
ADMIT: Final = """
local member, now, cutoff, window = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local refused, wait = 0, 0
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', cutoff)
  local over = redis.call('ZCARD', KEYS[i]) - tonumber(ARGV[4 + i])
  if over >= 0 then
    local leaves = redis.call('ZRANGE', KEYS[i], over, over, 'WITHSCORES')[2]
    local key_wait = tonumber(leaves) + window - now
    if refused == 0 or key_wait > wait then refused, wait = i, key_wait end
  end
end
if refused > 0 then return {refused, wait} end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[2], member)
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
return {0}
"""


class RateLimiter:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        per_user: int,
        per_ip: int,
        clock: Callable[[], float] = time.time,  # seconds since the epoch; tests set their own
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.limits = {"user": per_user, "ip": per_ip}
        self.clock = clock
        self._admit_script = redis.register_script(ADMIT)

    async def spend(self, *uses: tuple[str, str, int]) -> None:
        """Counts one use of an expensive operation (e.g. verify, which spends the merchant's
        Cashfree quota) against each `(scope, subject, limit)`; raises `RateLimited` when one
        accepted `limit` uses in the last 60 s, and then counts it against none. A Redis outage
        lets it through."""
        await self._admit(list(uses))

    async def check(self, *, ip: str | None, user_id: str | None) -> None:
        """Counts this request against the IP's and the user's limits (whichever are given);
        raises `RateLimited` (the scope that refused, `Retry-After` in whole seconds) when one
        already accepted its limit in the last 60 s, and then counts it against neither. A
        Redis outage lets requests through (limits protect us; they are not the truth)."""
        subjects = [
            (scope, value, self.limits[scope])
            for scope, value in (("ip", ip), ("user", user_id))
            if value
        ]
        if subjects:
            await self._admit(subjects)

    async def _admit(self, subjects: list[tuple[str, str, int]]) -> None:
        """Records one request in the log of every (scope, subject, limit), or, when one of
        them is full, in none and raises `RateLimited` for the one with the longest wait."""
        now_ms = int(self.clock() * 1000)
        member = log_member(now_ms)
        window_ms = WINDOW_SECONDS * 1000
        keys = [
            redis_key(self.prefix, "ratelimit", scope, subject) for scope, subject, _ in subjects
        ]
        args: list[int | str] = [member, now_ms, now_ms - window_ms, window_ms]
        args += [limit for *_, limit in subjects]
        try:
            refused, *wait_ms = await self._admit_script(keys=keys, args=args)
        except RedisError as exc:
            logger.warning("rate limiter unavailable; allowing", error=repr(exc))
            return
        if refused:
            scope = subjects[int(refused) - 1][0]
            LIMITED.labels(scope).inc()
            raise RateLimited(max(1, -(-int(wait_ms[0]) // 1000)), scope)  # whole s, rounded up
