"""RabbitMQ through FastStream: confirmed persistent publishing, and consumers with delayed
retries and a dead-letter queue, built from per-queue TTL and dead-lettering (no plugin).

For a consumer named `refund-worker.refunds` the topology is:

    <exchange> --routing keys--> refund-worker.refunds            (quorum, manual acks)
    failure n  --> refund-worker.refunds.delay.<delay>ms           (quorum, TTL, dead-letters
                                                                    back to the work queue)
    exhausted or poison --> refund-worker.refunds.dlq              (quorum)

Retries dead-letter through the default exchange straight to the work queue, so other queues
bound to the same routing key never see a retry. A retry or dead letter is a confirmed copy
published before the original is acked, so a crash in between duplicates, never loses: every
handler is idempotent.

The delay queues are quorum queues (replicated like the work queues: losing a broker node loses
no message waiting for its retry) that dead-letter at-least-once: an expired message leaves its
delay queue only once the work queue has confirmed it. Queue arguments can never change on a live
queue, so they are named `.delay.<delay>ms`; the classic `.retry.<delay>ms` queues of earlier
versions drain into the work queues on their own (docs/deployment.md, "Retry queues").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aio_pika import IncomingMessage
from aio_pika.exceptions import PublishError
from faststream import AckPolicy
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitMessage,
    RabbitQueue,
)
from faststream.rabbit.schemas.queue import (
    QuorumQueueArgs,
)
from loguru import logger
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, NetworkTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from paycore.kit.context import bound_ids, new_request_id, trace_id_from_traceparent
from paycore.kit.errors import AppError, PublishNotConfirmed, UnroutableEvent
from paycore.kit.events import EXCHANGES, EventEnvelope, OutboxEvent, exchange_for
from paycore.kit.settings import RabbitSettings

ATTEMPT_HEADER = "paycore-attempt"
LAST_ERROR_HEADER = "paycore-last-error"
FAILED_AT_HEADER = "paycore-failed-at"
SOURCE_QUEUE_HEADER = "paycore-source-queue"

# Queue labels are queue names without the test-isolation prefix (`BROKER_PREFIX`), so they are
# the same in every environment: `refund-worker.refunds`, `refund-worker.refunds.dlq`, ...
CONSUMER_RETRIES = Counter(
    "paycore_consumer_retries_total",
    "Messages sent to a delay queue, by consumer queue and attempt.",
    ["queue", "attempt"],
)
DEAD_LETTERED = Counter(
    "paycore_dead_lettered_total", "Messages sent to a dead-letter queue.", ["queue", "reason"]
)
# Every consumer queue of the system (each service declares its own; the reconciler watches
# them all, so a backlog shows while its consumer is stopped or stuck).
CONSUMER_QUEUES = ("webhook-processor.webhooks", "refund-worker.refunds", "email-worker.emails")

DEAD_LETTER_DEPTH = Gauge(
    "paycore_dead_letter_messages",
    "Messages waiting in a dead-letter queue (the .dlq queue's name).",
    ["queue"],
)
QUEUE_DEPTH = Gauge(
    "paycore_queue_messages",
    "Messages in a queue (ready, not yet delivered), by queue and kind (work, retry, dead_letter).",
    ["queue", "kind"],
)
QUEUE_CONSUMERS = Gauge(
    "paycore_queue_consumers",
    "Consumers attached to a queue, by queue and kind (retry and dead-letter queues have none).",
    ["queue", "kind"],
)
MESSAGES_HANDLED = Counter(
    "paycore_messages_handled_total",
    "Messages consumed, by queue and outcome.",
    ["queue", "outcome"],
)

# Failures that say nothing about the message itself: try again later.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    NetworkTimeout,
    RedisConnectionError,
    RedisTimeoutError,
    httpx.TransportError,
    TimeoutError,
    ConnectionError,
)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, AppError):
        return exc.retryable
    return isinstance(exc, TRANSIENT_ERRORS)


def make_broker(settings: RabbitSettings) -> RabbitBroker:
    return RabbitBroker(
        settings.rabbitmq_url,
        default_channel=Channel(
            publisher_confirms=True,
            on_return_raises=True,  # an unroutable message raises instead of vanishing
            prefetch_count=settings.prefetch_count,
        ),
        graceful_timeout=settings.shutdown_grace_seconds,
        logger=None,  # our own lines, with context, are enough
        client_properties={"connection_name": settings.service_name},  # type: ignore[arg-type]
    )


def topic_exchange(prefix: str, name: str) -> RabbitExchange:
    return RabbitExchange(prefix + name, type=ExchangeType.TOPIC, durable=True)


def expiring(arguments: QuorumQueueArgs, settings: RabbitSettings) -> QuorumQueueArgs:
    """Adds `x-expires` when the settings ask for it (tests)."""
    if settings.queue_expires_ms is not None:
        arguments["x-expires"] = settings.queue_expires_ms
    return arguments


def archive_queue(settings: RabbitSettings) -> RabbitQueue:
    """Every event also lands here (bounded, oldest dropped first): the reconciler's analytics
    rollups read it, and it makes every event type routable, so a mandatory publish fails only
    for an exchange we never declared, not for an event nobody happens to consume yet."""
    return RabbitQueue(
        f"{settings.broker_prefix}events.archive",
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments=expiring(
            QuorumQueueArgs({"x-max-length": 100_000, "x-overflow": "drop-head"}), settings
        ),
    )


async def declare_exchanges(broker: RabbitBroker, settings: RabbitSettings) -> None:
    """Declares the five topic exchanges of docs/design.md §3 and the event archive.
    Raises TimeoutError if the broker does not answer within `broker_timeout_seconds`."""
    async with asyncio.timeout(settings.broker_timeout_seconds):
        archive = await broker.declare_queue(archive_queue(settings))
        for family in EXCHANGES:
            exchange = await broker.declare_exchange(
                topic_exchange(settings.broker_prefix, f"{family}.exchange")
            )
            await archive.bind(exchange, routing_key="#")


class EventPublisher:
    """Publishes envelopes persistent, mandatory and confirmed, to the exchange of their type."""

    def __init__(self, broker: RabbitBroker, prefix: str = "") -> None:
        self.broker = broker
        self.prefix = prefix
        self._exchanges: dict[str, RabbitExchange] = {}  # by name: five at most

    async def publish(self, event: OutboxEvent, timeout: float = 10.0) -> None:
        envelope = event.envelope
        exchange = self._exchange(exchange_for(envelope.type))
        try:
            confirmation = await self.broker.publish(
                envelope.model_dump_json().encode(),
                exchange=exchange,
                routing_key=envelope.type,
                persist=True,
                mandatory=True,
                timeout=timeout,
                headers={**event.headers, "event_id": envelope.event_id},
                content_type="application/json",
                message_id=envelope.event_id,
                correlation_id=event.headers.get("correlation_id"),
            )
        except PublishError as exc:
            raise UnroutableEvent(event_type=envelope.type) from exc
        if confirmation is None or type(confirmation).__name__ != "Ack":
            raise PublishNotConfirmed(event_type=envelope.type, answer=repr(confirmation))

    def _exchange(self, name: str) -> RabbitExchange:
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = self._exchanges[name] = topic_exchange(self.prefix, name)
        return exchange


@dataclass(frozen=True)
class Delivery:
    """What a handler receives: the event and how many times it was tried before."""

    envelope: EventEnvelope
    attempt: int
    headers: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Delivery], Awaitable[None]]


class Consumer:
    """One consumer queue with its delay queues and dead-letter queue."""

    def __init__(
        self,
        broker: RabbitBroker,
        settings: RabbitSettings,
        name: str,
        exchange: str,
        routing_keys: tuple[str, ...],
    ) -> None:
        prefix = settings.broker_prefix
        self.broker = broker
        self.timeout = settings.broker_timeout_seconds
        self.prefix = prefix
        self.name = prefix + name
        self.label = name  # the name in metrics: the same in every environment
        self.exchange = topic_exchange(prefix, exchange)
        self.routing_keys = routing_keys
        self.delays_ms = tuple(settings.retry_delays_ms)
        self.dead_letter_exchange = RabbitExchange(
            f"{self.name}.dlx", type=ExchangeType.DIRECT, durable=True
        )
        self.dead_letters = RabbitQueue(
            f"{self.name}.dlq",
            queue_type=QueueType.QUORUM,
            durable=True,
            arguments=expiring(QuorumQueueArgs(), settings),
        )
        self.work = RabbitQueue(
            self.name,
            queue_type=QueueType.QUORUM,
            durable=True,
            arguments=expiring(
                QuorumQueueArgs(
                    {
                        # A message the broker gives up on (delivery limit) still lands in the DLQ.
                        "x-dead-letter-exchange": self.dead_letter_exchange.name,
                        "x-dead-letter-routing-key": self.dead_letters.name,
                        "x-delivery-limit": 20,
                    }
                ),
                settings,
            ),
        )
        # The delay is in the name: queue arguments can never change once declared.
        self.retries = [
            RabbitQueue(
                f"{self.name}.delay.{delay}ms",
                queue_type=QueueType.QUORUM,
                durable=True,
                arguments=expiring(
                    QuorumQueueArgs(
                        {
                            "x-message-ttl": delay,
                            "x-dead-letter-exchange": "",
                            "x-dead-letter-routing-key": self.name,
                            # Kept until the work queue confirms the copy (needs reject-publish).
                            "x-dead-letter-strategy": "at-least-once",
                            "x-overflow": "reject-publish",
                        }
                    ),
                    settings,
                ),
            )
            for delay in self.delays_ms
        ]

    async def declare(self) -> None:
        """Declares and binds the whole topology; safe to repeat. Call after connect.
        Raises TimeoutError if the broker does not answer within `broker_timeout_seconds`."""
        async with asyncio.timeout(self.timeout):
            exchange = await self.broker.declare_exchange(self.exchange)
            work = await self.broker.declare_queue(self.work)
            for key in self.routing_keys:
                await work.bind(exchange, routing_key=key)
            for retry in self.retries:
                await self.broker.declare_queue(retry)
            dead_letter_exchange = await self.broker.declare_exchange(self.dead_letter_exchange)
            dead_letters = await self.broker.declare_queue(self.dead_letters)
            await dead_letters.bind(dead_letter_exchange, routing_key=self.dead_letters.name)

    def subscribe(self, handler: Handler) -> None:
        """Registers `handler`; it is acked after it returns, retried or dead-lettered if not."""

        @self.broker.subscriber(self.work, ack_policy=AckPolicy.MANUAL)
        async def consume(body: Any, msg: RabbitMessage) -> None:
            await self._handle(handler, msg)

    async def _handle(self, handler: Handler, msg: RabbitMessage) -> None:
        headers = dict(msg.headers or {})
        attempt = int(headers.get(ATTEMPT_HEADER, 0))
        request_id = str(headers.get("request_id") or new_request_id())
        correlation_id = str(headers.get("correlation_id") or msg.correlation_id or request_id)
        trace_id = trace_id_from_traceparent(str(headers.get("traceparent") or ""))
        with bound_ids(request_id, correlation_id, trace_id, eventId=msg.message_id):
            try:
                envelope = EventEnvelope.model_validate_json(msg.body)
            except ValidationError as exc:
                await self._dead_letter(msg, headers, attempt, exc, reason="malformed")
                return
            try:
                await handler(Delivery(envelope=envelope, attempt=attempt, headers=headers))
            except Exception as exc:
                if is_retryable(exc) and attempt < len(self.retries):
                    await self._retry(msg, headers, attempt, exc)
                else:
                    reason = "exhausted" if is_retryable(exc) else "poison"
                    await self._dead_letter(msg, headers, attempt, exc, reason=reason)
                return
            await msg.ack()
            MESSAGES_HANDLED.labels(self.label, "ok").inc()

    async def _retry(
        self, msg: RabbitMessage, headers: dict[str, Any], attempt: int, exc: BaseException
    ) -> None:
        queue = self.retries[attempt]
        logger.warning(
            "handler failed, retrying later",
            queue=self.name,
            attempt=attempt + 1,
            delayMs=self.delays_ms[attempt],
            error=repr(exc)[:300],
        )
        await self._forward(msg, headers, queue.name, attempt + 1, exc)
        CONSUMER_RETRIES.labels(self.label, str(attempt + 1)).inc()
        MESSAGES_HANDLED.labels(self.label, "retried").inc()

    async def _dead_letter(
        self,
        msg: RabbitMessage,
        headers: dict[str, Any],
        attempt: int,
        exc: BaseException,
        reason: str,
    ) -> None:
        logger.error(
            "message dead-lettered",
            queue=self.name,
            attempt=attempt,
            reason=reason,
            error=repr(exc)[:300],
        )
        await self._forward(msg, headers, self.dead_letters.name, attempt, exc)
        DEAD_LETTERED.labels(self.label, reason).inc()
        MESSAGES_HANDLED.labels(self.label, "dead_lettered").inc()

    async def _forward(
        self,
        msg: RabbitMessage,
        headers: dict[str, Any],
        queue: str,
        attempt: int,
        exc: BaseException,
    ) -> None:
        """Publishes a confirmed copy to `queue`, then acks the original (at-least-once)."""
        copy_headers = {k: v for k, v in headers.items() if not k.startswith("x-")}
        copy_headers |= {
            ATTEMPT_HEADER: attempt,
            LAST_ERROR_HEADER: repr(exc)[:500],
            FAILED_AT_HEADER: datetime.now(UTC).isoformat(),
            SOURCE_QUEUE_HEADER: self.name,
        }
        try:
            await self._publish_copy(msg, queue, copy_headers)
        except Exception:
            # Could not park the copy: put the original back rather than lose it.
            logger.exception("could not forward a failed message; requeueing it", queue=queue)
            await asyncio.sleep(1)
            await msg.nack(requeue=True)
            return
        await msg.ack()

    def queues(self) -> list[tuple[RabbitQueue, str]]:
        """Every queue of this consumer with its kind: work, retry, dead_letter."""
        return [
            (self.work, "work"),
            *((retry, "retry") for retry in self.retries),
            (self.dead_letters, "dead_letter"),
        ]

    async def dead_letter_count(self) -> int:
        queue = await self.broker.declare_queue(self.dead_letters)
        # FastStream caches the declared queue; declaring again reads the current depth.
        count = (await queue.declare(timeout=self.timeout)).message_count or 0
        DEAD_LETTER_DEPTH.labels(self.dead_letters.name.removeprefix(self.prefix)).set(count)
        return count

    async def report_depths(self) -> dict[str, int]:
        """Reads every queue's depth and consumer count into the gauges; returns the depths
        by (prefixed) queue name."""
        depths: dict[str, int] = {}
        for queue, kind in self.queues():
            declared = await self.broker.declare_queue(queue)
            # FastStream caches the declared queue; declaring again reads the current counts.
            answer = await declared.declare()
            label = queue.name.removeprefix(self.prefix)
            depths[queue.name] = answer.message_count or 0
            QUEUE_DEPTH.labels(label, kind).set(depths[queue.name])
            QUEUE_CONSUMERS.labels(label, kind).set(answer.consumer_count or 0)
            if kind == "dead_letter":
                DEAD_LETTER_DEPTH.labels(label).set(depths[queue.name])
        return depths

    async def take_dead_letter(self) -> IncomingMessage | None:
        """The oldest dead letter, unacked (ack to remove it, nack to put it back)."""
        queue = await self.broker.declare_queue(self.dead_letters)
        return await queue.get(no_ack=False, fail=False, timeout=5)

    async def replay_dead_letters(self, limit: int | None = None, per_second: float = 50) -> int:
        """Moves dead letters back to the work queue with a fresh attempt count."""
        replayed = 0
        interval = 1 / per_second if per_second > 0 else 0
        while limit is None or replayed < limit:
            message = await self.take_dead_letter()
            if message is None:
                break
            started = time.monotonic()
            await self.requeue_dead_letter(message)
            replayed += 1
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        return replayed

    async def requeue_dead_letter(self, message: IncomingMessage) -> None:
        """A fresh copy on the work queue (attempts start again), then the dead letter goes."""
        headers = {
            k: v
            for k, v in (message.headers or {}).items()
            if not k.startswith("x-") and k != ATTEMPT_HEADER
        }
        headers["paycore-replayed-at"] = datetime.now(UTC).isoformat()
        await self._publish_copy(message, self.name, headers)
        await message.ack()

    async def _publish_copy(
        self, message: RabbitMessage | IncomingMessage, queue: str, headers: dict[str, Any]
    ) -> None:
        """Publishes a persistent copy of `message` to `queue` with `headers`: the same body,
        content type, correlation id and message id, so it stays the same message."""
        await self.broker.publish(
            message.body,
            queue=queue,
            persist=True,
            headers=headers,
            content_type=message.content_type,
            correlation_id=message.correlation_id,
            message_id=message.message_id,
        )
