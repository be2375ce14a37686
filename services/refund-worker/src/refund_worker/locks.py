"""One refund, one worker at a time: a second delivery of the same refund (or the poll) waits
instead of calling the gateway alongside. Correctness never depends on it (the idempotency key
and the guarded updates do that); it only saves gateway calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from paycore.kit.redis import Lock, redis_key
from paycore.kit.service import Resources
from paycore.refunds.errors import RefundBusy


class RefundLocks:
    def __init__(self, resources: Resources, ttl_seconds: float) -> None:
        self.resources = resources  # its Redis client exists once the service started
        self.ttl_ms = int(ttl_seconds * 1000)

    @asynccontextmanager
    async def hold(self, refund_id: str) -> AsyncIterator[None]:
        redis = self.resources.redis
        assert redis is not None, "the service has not started"
        key = redis_key(self.resources.settings.redis_prefix, "lock", "refund", refund_id)
        lock = Lock(redis, key, self.ttl_ms)
        if not await lock.acquire():
            raise RefundBusy(refund_id=refund_id)
        try:
            yield
        finally:
            await lock.release()
