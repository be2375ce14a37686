"""The outbox relay: publishes the events waiting inside documents, then removes them.
Documents are addressed by `_id`, their business key (`KeyedDocument`).

Two paths, one rule: an event is removed only after the broker confirmed it, so a crash or a
broker outage delays events but never loses one (a crash between the confirm and the removal
publishes it twice, which consumers absorb: they are idempotent).

- Fast path: the process that wrote a document publishes its new events right away
  (`publish_soon`), in the background, so a request never waits on the broker.
- Sweep: one process per collection at a time (a Redis lock) publishes events older than a
  grace period: those whose writer crashed or met a broker outage. The grace keeps the two
  paths apart, so in the normal path each event is published once. It searches the model's
  `outbox_due` index (`kit.events.OUTBOX_DUE_INDEX`), so it reads the waiting documents only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import Document
from loguru import logger
from prometheus_client import Counter, Gauge
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from redis.asyncio import Redis

from paycore.kit.broker import EventPublisher
from paycore.kit.context import bound_ids
from paycore.kit.events import OUTBOX_DUE, OutboxEvent
from paycore.kit.futures import BackgroundTasks
from paycore.kit.mongo import GroupCommit
from paycore.kit.redis import Lock, redis_key
from paycore.kit.state import to_mongo

RELAYED = Counter(
    "paycore_outbox_published_total", "Outbox events published.", ["collection", "path"]
)
RELAY_FAILURES = Counter(
    "paycore_outbox_failures_total", "Outbox publish attempts that failed.", ["collection"]
)
WAITING = Gauge(
    "paycore_outbox_waiting_documents",
    "Documents whose events waited past the grace period (last sweep; at most the batch size). "
    "Only the replica holding the sweep lock reports; the others report 0.",
    ["collection"],
)
OLDEST = Gauge(
    "paycore_outbox_oldest_event_age_seconds",
    "Age of the oldest event still waiting past the grace period (last sweep), in seconds.",
    ["collection"],
)


# How long the relay's removals wait to share their write (far below the sweep's grace).
REMOVAL_LINGER = 0.2


def removal_linger(grace_seconds: float) -> float:
    """Seconds a removal nothing waits on may linger for company: well inside the sweep's grace,
    so the sweep does not take an event whose removal is only waiting to be written."""
    return min(REMOVAL_LINGER, grace_seconds / 5)


class ConfirmedRemovals(GroupCommit):
    """Removes confirmed events from their documents' outboxes, many documents per write.

    A caller waits for the write that removed its events, so "confirm, remove, then go on" still
    holds; concurrent callers share one `update` command (`GroupCommit`: unordered, one
    `$pullAll` of exact stored values per `_id`) instead of one write per event. Raises what
    the write raised. A linger is for callers nothing waits on (the relay's background
    publishes: events published one by one still share removals); 0 for a caller that answers
    after.
    """

    async def remove(self, key: str, stored: list[dict[str, Any]]) -> None:
        """Removes exactly these stored values from the outbox of document `key` (events
        appended meanwhile stay)."""
        await self.write(UpdateOne({"_id": key}, {"$pullAll": {"outbox": stored}}))


class OutboxRelay:
    def __init__(
        self,
        model: type[Document],
        publisher: EventPublisher,
        redis: Redis,
        *,
        poll_seconds: float = 1.0,
        grace_seconds: float = 5.0,
        lock_prefix: str = "",
        batch: int = 100,
    ) -> None:
        self.model = model
        self.publisher = publisher
        self.redis = redis
        self.poll_seconds = poll_seconds
        self.grace = timedelta(seconds=grace_seconds)
        self.batch = batch
        self.name = model.get_settings().name or model.__name__
        self.lock_key = redis_key(lock_prefix, "lock", "outbox", self.name)
        RELAY_FAILURES.labels(self.name)  # exposed at 0, so rate() sees the first failure
        self._in_flight = BackgroundTasks()
        # Nothing waits on a removal here.
        self.removals = ConfirmedRemovals(
            lambda: self.collection, linger_seconds=removal_linger(grace_seconds)
        )

    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        return self.model.get_pymongo_collection()

    def publish_soon(self, key: str, events: Iterable[OutboxEvent]) -> None:
        """Publishes events this process just wrote into the document `key`, in the background."""
        stored = to_mongo(list(events))
        if not stored:
            return
        self._in_flight.start(self._publish_fast(key, stored))

    async def _publish_fast(self, key: str, stored: list[dict[str, Any]]) -> None:
        try:
            await self._publish(key, stored, path="fast")
        except Exception as exc:
            RELAY_FAILURES.labels(self.name).inc()
            logger.warning(
                "fast publish failed; the sweep will retry",
                collection=self.name,
                error=repr(exc)[:300],
            )

    async def finish_in_flight(self) -> None:
        """Waits for background publishes (at shutdown)."""
        await self._in_flight.finish()

    async def run_forever(self) -> None:
        """Sweeps for waiting events while this process holds the collection's lock."""
        failures = 0
        lock = Lock(self.redis, self.lock_key, ttl_ms=max(10_000, int(self.poll_seconds * 5000)))
        while True:
            try:
                if await lock.extend() or await lock.acquire():
                    await self.sweep()
                else:  # another replica sweeps and reports
                    WAITING.labels(self.name).set(0)
                    OLDEST.labels(self.name).set(0)
                failures = 0
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await lock.release()
                raise
            except Exception as exc:
                failures += 1
                RELAY_FAILURES.labels(self.name).inc()
                logger.warning("outbox sweep paused", collection=self.name, error=repr(exc)[:300])
                await asyncio.sleep(min(0.2 * 2**failures, 10))
                continue
            await asyncio.sleep(self.poll_seconds)

    async def sweep(self, grace: timedelta | None = None) -> int:
        """Publishes events older than the grace period; returns how many."""
        cutoff = datetime.now(UTC) - (self.grace if grace is None else grace)
        documents = (
            await self.collection.find(
                {OUTBOX_DUE: {"$lt": cutoff}},  # searches OUTBOX_DUE_INDEX
                {"outbox": 1},
            )
            .limit(self.batch)
            .to_list()
        )
        WAITING.labels(self.name).set(len(documents))
        OLDEST.labels(self.name).set(_oldest_age(documents))
        # The documents go out together, so their removals share one write: one after another,
        # each would wait out its own linger (100 documents, 20 s: near the lock's expiry).
        outcomes = await asyncio.gather(
            *(self._publish(doc["_id"], doc["outbox"], "sweep") for doc in documents),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # the others finished: the loop pauses and sweeps again
        return sum(outcome for outcome in outcomes if isinstance(outcome, int))

    async def _publish(self, key: str, stored: list[dict[str, Any]], path: str) -> int:
        confirmed: list[dict[str, Any]] = []
        try:
            for item in stored:
                event = OutboxEvent.model_validate(item)
                headers = event.headers
                with bound_ids(
                    headers.get("request_id"),
                    headers.get("correlation_id"),
                    None,
                    eventId=event.envelope.event_id,
                ):
                    await self.publisher.publish(event)
                confirmed.append(item)
        finally:
            # One write for the document's confirmed events (shared with other documents'):
            # exactly these stored values, so events appended meanwhile stay.
            if confirmed:
                await self.removals.remove(key, confirmed)
                RELAYED.labels(self.name, path).inc(len(confirmed))
        return len(stored)


def _oldest_age(documents: list[dict[str, Any]]) -> float:
    """Seconds since the oldest first-waiting event among `documents` occurred (0 if none)."""
    occurred: list[datetime] = [
        document["outbox"][0]["envelope"]["occurred_at"]
        for document in documents
        if document.get("outbox")
    ]
    if not occurred:
        return 0.0
    oldest = min(at if at.tzinfo else at.replace(tzinfo=UTC) for at in occurred)
    age: float = (datetime.now(UTC) - oldest).total_seconds()
    return max(0.0, age)
