"""Sliding-window counters in Redis: one sorted set per subject, scored by time."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final

from redis.asyncio import Redis

from paycore.kit.redis import log_member, redis_key

# KEYS: the hit keys, then the read keys. ARGV (ms, computed by the caller: Lua's numbers
# print with 14 digits): number of hit keys, member, now, hits' cutoff, hits' expiry, reads'
# cutoff. Per hit key: add, trim the window, count, expire (the pipeline's four commands);
# per read key: count since the cutoff. Returns the counts in key order.
HIT_AND_COUNT: Final = """
local hits, member, now = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local counts = {}
for i = 1, hits do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[4])
  counts[i] = redis.call('ZCARD', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[5])
end
for i = hits + 1, #KEYS do
  counts[i] = redis.call('ZCOUNT', KEYS[i], ARGV[6], '+inf')
end
return counts
"""


class SlidingWindows:
    def __init__(self, redis: Redis, prefix: str = "") -> None:
        self.redis = redis
        self.prefix = prefix
        self._hit_and_count = redis.register_script(HIT_AND_COUNT)

    def _key(self, kind: str, dimension: str, subject: str) -> str:
        return redis_key(self.prefix, "fraud", kind, dimension, subject)

    async def hit_and_count(
        self,
        hits: Mapping[str, str],
        window_seconds: int,
        reads: Mapping[str, str] | None = None,
        read_kind: str = "failures",
        read_window_seconds: int = 3600,
    ) -> dict[str, int]:
        """Records one attempt per (dimension → subject) in `hits` and returns each count in
        the window including it; also counts `reads` (e.g. failures) without adding. One round
        trip: one server-side script (`HIT_AND_COUNT`), atomic, instead of four commands per
        hit and one per read sent and answered one by one. Raises redis-py's `RedisError`."""
        now_ms = int(time.time() * 1000)
        member = log_member(now_ms)
        reads = reads or {}
        keys = [self._key("attempts", dimension, subject) for dimension, subject in hits.items()]
        keys += [self._key(read_kind, dimension, subject) for dimension, subject in reads.items()]
        window_ms = window_seconds * 1000
        args: list[int | str] = [
            len(hits),
            member,
            now_ms,
            now_ms - window_ms,
            window_ms,
            now_ms - read_window_seconds * 1000,
        ]
        results = await self._hit_and_count(keys=keys, args=args)
        names = [*hits, *(f"{read_kind}_{dimension}" for dimension in reads)]
        return {name: int(count) for name, count in zip(names, results, strict=True)}

    async def hit(self, kind: str, subjects: Mapping[str, str], window_seconds: int) -> None:
        """Records one event (e.g. a failed payment) for each subject."""
        now_ms = int(time.time() * 1000)
        member = log_member(now_ms)
        pipe = self.redis.pipeline(transaction=False)
        for dimension, subject in subjects.items():
            key = self._key(kind, dimension, subject)
            pipe.zadd(key, {member: now_ms})
            pipe.zremrangebyscore(key, "-inf", now_ms - window_seconds * 1000)
            pipe.pexpire(key, window_seconds * 1000)
        await pipe.execute()
