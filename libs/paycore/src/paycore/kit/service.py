"""A service's connections and background work, started and stopped in one order.

Every service is a Starlette app under uvicorn: the HTTP services serve their API, the workers
only `/health` and `/metrics` while their consumers run. On SIGTERM uvicorn stops accepting
requests, then this stops the consumers (FastStream waits for in-flight messages), the
background loops, and closes the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from beanie import Document
from faststream.rabbit import RabbitBroker
from loguru import logger
from pydantic import Field
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from paycore.kit import mongo, redis
from paycore.kit.audit import acting_as
from paycore.kit.broker import Consumer, EventPublisher, declare_exchanges, make_broker
from paycore.kit.errors import DependencyUnavailable
from paycore.kit.http import HealthCheck
from paycore.kit.outbox import OutboxRelay
from paycore.kit.settings import MongoSettings, RabbitSettings, RedisSettings
from paycore.kit.state import finish_audit_drains, listen_outbox, stop_listening


class InfraSettings(MongoSettings, RedisSettings, RabbitSettings):
    """The three servers every service uses."""


class FailFastInfraSettings(InfraSettings):
    """The three servers, for a service that answers HTTP callers: fail fast (answer 503) when a
    dependency is down, well inside the caller's timeout. A database that is unreachable
    answers in about 0.3 s, a stuck one in 3 s."""

    mongo_timeout_ms: int = Field(default=300, gt=0)
    mongo_connect_timeout_ms: int = Field(default=2000, gt=0)
    mongo_socket_timeout_ms: int = Field(default=3000, gt=0)
    redis_timeout_seconds: float = Field(default=1.0, gt=0)


BackgroundLoop = Callable[["Resources"], Awaitable[None]]


@dataclass
class Resources:
    settings: InfraSettings
    models: Sequence[type[Document]] = ()
    mongo: AsyncMongoClient[dict[str, Any]] | None = None
    redis: Redis | None = None
    broker: RabbitBroker | None = None
    publisher: EventPublisher | None = None
    consumers: list[Consumer] = field(default_factory=list)
    relays: list[OutboxRelay] = field(default_factory=list)
    # Collections whose outbox this service relays (documents keyed by `_id`).
    outboxes: Sequence[type[Document]] = ()
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.broker = make_broker(self.settings)
        self.publisher = EventPublisher(self.broker, self.settings.broker_prefix)

    def consumer(self, name: str, exchange: str, routing_keys: tuple[str, ...]) -> Consumer:
        """A consumer queue of this service; subscribe its handler before `start`."""
        assert self.broker is not None
        consumer = Consumer(self.broker, self.settings, name, exchange, routing_keys)
        self.consumers.append(consumer)
        return consumer

    async def start(self, loops: Sequence[BackgroundLoop] = ()) -> None:
        # Consumers and loops started from here change documents as this service (audit).
        acting_as("service", self.settings.service_name)
        self.mongo = await mongo.connect_mongo(self.settings, self.models)
        self.redis = redis.redis_client(self.settings)
        assert self.broker is not None
        assert self.publisher is not None
        for model in self.outboxes:
            relay = OutboxRelay(
                model,
                self.publisher,
                self.redis,
                poll_seconds=self.settings.outbox_poll_seconds,
                grace_seconds=self.settings.outbox_grace_seconds,
                lock_prefix=self.settings.redis_prefix,
            )
            listen_outbox(relay.collection.name, relay.publish_soon)
            self.relays.append(relay)
        await self.broker.connect()
        await declare_exchanges(self.broker, self.settings)
        for consumer in self.consumers:
            await consumer.declare()
        await self.broker.start()
        for relay in self.relays:
            self.tasks.append(asyncio.create_task(relay.run_forever()))
        if self.consumers:
            loops = [report_queues, *loops]
        for loop in loops:
            self.tasks.append(asyncio.create_task(self._keep_running(loop)))
        logger.info("service started", consumers=[c.name for c in self.consumers])

    async def _keep_running(self, loop: BackgroundLoop) -> None:
        """Runs a background loop until stop; a crash is logged and the loop restarted."""
        while not self.stopping.is_set():
            try:
                await loop(self)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("background loop failed; restarting", loop=loop.__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=1)

    async def stop(self) -> None:
        self.stopping.set()
        for relay in self.relays:
            stop_listening(relay.collection.name, relay.publish_soon)
            await relay.finish_in_flight()
        if self.broker is not None:
            # Waits for in-flight handlers up to the grace period; an unanswered close must not
            # keep the process from exiting (unacked messages go back to the queue).
            limit = self.settings.shutdown_grace_seconds + self.settings.broker_timeout_seconds
            try:
                async with asyncio.timeout(limit):
                    await self.broker.stop()
            except TimeoutError:
                logger.warning("broker did not stop in time; closing anyway", seconds=limit)
        await cancel_all(self.tasks, within_seconds=self.settings.broker_timeout_seconds)
        await finish_audit_drains()  # what a drain cannot finish, the reconciler's sweep moves
        if self.redis is not None:
            await self.redis.aclose()
        if self.mongo is not None:
            await self.mongo.close()
        logger.info("service stopped")

    def checks(self) -> dict[str, HealthCheck]:
        return {
            "database": self._check_mongo,
            "queues": self._check_broker,
            "redis": self._check_redis,
        }

    async def _check_mongo(self) -> None:
        if self.mongo is None:
            raise DependencyUnavailable("database not connected")
        await self.mongo.admin.command("ping")

    async def _check_redis(self) -> None:
        if self.redis is None:
            raise DependencyUnavailable("redis not connected")
        await self.redis.ping()

    async def _check_broker(self) -> None:
        if self.broker is None or not await self.broker.ping(timeout=2):
            raise DependencyUnavailable("broker not reachable")

    @contextlib.asynccontextmanager
    async def running(self, loops: Sequence[BackgroundLoop] = ()) -> AsyncIterator[Resources]:
        await self.start(loops)
        try:
            yield self
        finally:
            await self.stop()


async def cancel_all(tasks: Sequence[asyncio.Task[None]], *, within_seconds: float) -> None:
    """Cancels the tasks and waits for them to end, cancelling again while any is left: a
    library call that swallows a cancellation (seen: an outbox relay went back to its poll sleep,
    and the service's stop waited on it forever) must not keep a process from stopping. Tasks
    still running after `within_seconds` are logged and left behind."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while pending := [task for task in tasks if not task.done()]:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            logger.error("background tasks did not stop", tasks=[t.get_name() for t in pending])
            return
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=min(1.0, remaining))


async def report_queues(resources: Resources) -> None:
    """Keeps the depth and consumer gauges of this service's queues current (work, retry and
    dead-letter queues: `paycore_queue_messages`, `paycore_queue_consumers`,
    `paycore_dead_letter_messages`). Each service reports its own queues."""
    while not resources.stopping.is_set():
        for consumer in resources.consumers:
            await consumer.report_depths()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                resources.stopping.wait(), timeout=resources.settings.queue_report_seconds
            )
