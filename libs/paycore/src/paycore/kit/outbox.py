"""The outbox relay: publishes the events waiting inside documents, then removes them.

An event is removed only after the broker confirmed it, so a crash or a broker outage delays
events but never loses one; a crash between the confirm and the removal publishes it twice,
which consumers absorb (they are idempotent). One relay per collection runs at a time across
replicas, under a Redis lock, so the normal path publishes each event once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from beanie import Document
from loguru import logger
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis

from paycore.kit.broker import EventPublisher
from paycore.kit.context import bound_ids
from paycore.kit.events import OutboxEvent
from paycore.kit.redis import Lock

RELAYED = Counter("paycore_outbox_published_total", "Outbox events published.", ["collection"])
RELAY_FAILURES = Counter(
    "paycore_outbox_failures_total", "Outbox publish attempts that failed.", ["collection"]
)
PENDING = Gauge(
    "paycore_outbox_pending_documents", "Documents with unpublished events.", ["collection"]
)


class OutboxRelay:
    def __init__(
        self,
        model: type[Document],
        key_field: str,
        publisher: EventPublisher,
        redis: Redis,
        *,
        poll_seconds: float = 1.0,
        lock_prefix: str = "",
        batch: int = 100,
    ) -> None:
        self.model = model
        self.key_field = key_field
        self.publisher = publisher
        self.redis = redis
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.name = model.get_settings().name or model.__name__
        self.lock_key = f"{lock_prefix}lock:outbox:{self.name}"
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Asks the relay to look now (after a write in this process) instead of at its poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        failures = 0
        lock = Lock(self.redis, self.lock_key, ttl_ms=max(10_000, int(self.poll_seconds * 5000)))
        while True:
            try:
                if await lock.acquire() or await lock.extend():
                    await self.drain()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                RELAY_FAILURES.labels(self.name).inc()
                logger.warning("outbox relay paused", collection=self.name, error=repr(exc)[:300])
                await asyncio.sleep(min(0.2 * 2**failures, 10))
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    async def drain(self) -> int:
        """Publishes every waiting event, oldest document first; returns how many."""
        collection = self.model.get_pymongo_collection()
        published = 0
        while True:
            documents = (
                await collection.find(
                    {"outbox.0": {"$exists": True}}, {self.key_field: 1, "outbox": 1}
                )
                .limit(self.batch)
                .to_list()
            )
            PENDING.labels(self.name).set(len(documents))
            if not documents:
                return published
            for document in documents:
                published += await self._publish_document(collection, document)

    async def _publish_document(self, collection: Any, document: dict[str, Any]) -> int:
        published = 0
        for stored in document["outbox"]:
            event = OutboxEvent.model_validate(stored)
            headers = event.headers
            with bound_ids(
                headers.get("request_id"),
                headers.get("correlation_id"),
                None,
                eventId=event.envelope.event_id,
            ):
                await self.publisher.publish(event)
            # Remove exactly this stored value: events appended meanwhile stay.
            await collection.update_one(
                {self.key_field: document[self.key_field]}, {"$pull": {"outbox": stored}}
            )
            RELAYED.labels(self.name).inc()
            published += 1
        return published
