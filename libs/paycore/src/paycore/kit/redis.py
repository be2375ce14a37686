"""Redis: the client, locks that only their owner can release, and incident starts."""

from __future__ import annotations

import re
import secrets
import time
from typing import Final, Self
from urllib.parse import quote

from loguru import logger
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from paycore.kit.errors import LockNotAcquired
from paycore.kit.settings import RedisSettings

# Delete or extend the key only if it still holds our token: a lock that expired and was
# taken by someone else must not be released or extended by its previous owner.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


# The connections of one client (redis-py's default pool size).
POOL_CONNECTIONS: Final = 100

# What `quote` leaves as it is: a part made only of these is its own encoding.
_PLAIN: Final = re.compile(r"[A-Za-z0-9_.~-]*")


def redis_key(prefix: str, *parts: str | int) -> str:
    """`prefix` + the parts joined by `:`, each percent-encoded (`:` → `%3A`, `%` → `%25`), so
    parts that come from callers can never run into each other: user `a:b` with key `c` and
    user `a` with key `b:c` are two keys. Plain ids (letters, digits, `-_.~`) read unchanged
    (and skip the encoder: a request builds about ten keys)."""
    return prefix + ":".join(_encoded(str(part)) for part in parts)


def _encoded(part: str) -> str:
    return part if _PLAIN.fullmatch(part) else quote(part, safe="")


def redis_client(settings: RedisSettings) -> Redis:
    """A client of at most `POOL_CONNECTIONS` connections. A command finding them all busy
    waits up to `redis_timeout_seconds` for one: the default pool fails it at once, as if
    Redis were down, so a burst of over a hundred parallel requests was let past the rate
    limits (which allow requests through an outage)."""
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=POOL_CONNECTIONS,
        timeout=settings.redis_timeout_seconds,
        decode_responses=True,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # closing the client closes its pool


def log_member(now_ms: int) -> str:
    """A sliding log's member for an entry at `now_ms` (the sorted set's score): the time and a
    random suffix, so entries of the same millisecond are all kept and all count."""
    return f"{now_ms}-{secrets.token_hex(4)}"


async def incident_start(redis: Redis, key: str, window_seconds: int) -> int:
    """The second (Unix time) the incident kept at `key` began: now if none began in the last
    `window_seconds`. The key lives `window_seconds` from the incident's start, so however many
    events of it arrive they name one incident, and a clock boundary inside it (a fixed time
    bucket's) cannot split it in two. One round trip (`SET NX GET EX`, Redis 7.0 or later).
    If Redis fails, the start of the fixed `window_seconds` bucket of now (logged): an alert
    named by it still goes out, one per bucket."""
    now = int(time.time())
    try:
        started = await redis.set(key, now, nx=True, get=True, ex=window_seconds)
    except RedisError as exc:
        logger.warning("incident start unknown; using the time bucket", key=key, error=repr(exc))
        return now // window_seconds * window_seconds
    return now if started is None else int(started)


class Lock:
    """An owner-checked lock with expiry: `SET key token NX PX ttl`, released by compare-and-del."""

    def __init__(self, redis: Redis, key: str, ttl_ms: int, owner: str | None = None) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = ttl_ms
        self.owner = owner or secrets.token_hex(16)

    async def acquire(self) -> bool:
        return bool(await self.redis.set(self.key, self.owner, nx=True, px=self.ttl_ms))

    async def release(self) -> bool:
        return bool(await self.redis.eval(_RELEASE, 1, self.key, self.owner))

    async def extend(self, ttl_ms: int | None = None) -> bool:
        ttl = ttl_ms or self.ttl_ms
        return bool(await self.redis.eval(_EXTEND, 1, self.key, self.owner, ttl))

    async def __aenter__(self) -> Self:
        if not await self.acquire():
            raise LockNotAcquired(key=self.key)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.release()
