"""Sliding-window counters in Redis: one sorted set per subject, scored by time."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping

from redis.asyncio import Redis

from paycore.kit.redis import redis_key


class SlidingWindows:
    def __init__(self, redis: Redis, prefix: str = "") -> None:
        self.redis = redis
        self.prefix = prefix

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
        trip: everything goes in one pipeline."""
        now_ms = int(time.time() * 1000)
        member = f"{now_ms}-{secrets.token_hex(4)}"  # unique, so equal timestamps all count
        pipe = self.redis.pipeline(transaction=False)
        order: list[str] = []
        for dimension, subject in hits.items():
            key = self._key("attempts", dimension, subject)
            pipe.zadd(key, {member: now_ms})
            pipe.zremrangebyscore(key, "-inf", now_ms - window_seconds * 1000)
            pipe.zcard(key)
            pipe.pexpire(key, window_seconds * 1000)
            order.append(dimension)
        for dimension, subject in (reads or {}).items():
            key = self._key(read_kind, dimension, subject)
            pipe.zcount(key, now_ms - read_window_seconds * 1000, "+inf")
            order.append(f"{read_kind}_{dimension}")
        results = await pipe.execute()
        counts: dict[str, int] = {}
        position = 0
        for name in order:
            if name in hits:
                counts[name] = int(results[position + 2])
                position += 4
            else:
                counts[name] = int(results[position])
                position += 1
        return counts

    async def hit(self, kind: str, subjects: Mapping[str, str], window_seconds: int) -> None:
        """Records one event (e.g. a failed payment) for each subject."""
        now_ms = int(time.time() * 1000)
        member = f"{now_ms}-{secrets.token_hex(4)}"
        pipe = self.redis.pipeline(transaction=False)
        for dimension, subject in subjects.items():
            key = self._key(kind, dimension, subject)
            pipe.zadd(key, {member: now_ms})
            pipe.zremrangebyscore(key, "-inf", now_ms - window_seconds * 1000)
            pipe.pexpire(key, window_seconds * 1000)
        await pipe.execute()
