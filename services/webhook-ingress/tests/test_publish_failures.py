"""A webhook the ingress cannot publish is stored, and its failed publish is counted by the
ingress itself (`paycore_outbox_failures_total{collection="webhook_logs"}`): the sweep that
publishes it later may run in another process (the webhook-processor relays this collection
too), which never sees this broker fail."""

import socket
from collections.abc import AsyncIterator

import pytest
from ingress_support import ingress_settings, payment_body, signed_headers
from paycore.kit.broker import EventPublisher, declare_exchanges, make_broker
from paycore.kit.crypto import cipher_for
from paycore.kit.mongo import connect_mongo
from paycore.kit.redis import redis_client
from paycore.webhooks.intake import WebhookIntake
from paycore.webhooks.models import WebhookLog
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from webhook_ingress.settings import Settings


def failures() -> float:
    value = REGISTRY.get_sample_value(
        "paycore_outbox_failures_total", {"collection": "webhook_logs"}
    )
    return value or 0.0


def closed_port() -> int:
    """A port nothing listens on: a broker that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def settings() -> AsyncIterator[Settings]:
    settings = ingress_settings()
    client = await connect_mongo(settings, [WebhookLog])
    yield settings
    await client.drop_database(settings.mongo_db)
    await client.close()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = redis_client(settings)
    yield client
    await client.aclose()


async def accept_one(settings: Settings, redis: Redis, publisher: EventPublisher) -> None:
    intake = WebhookIntake(
        publisher,
        redis,
        cipher_for(settings),
        redis_prefix=settings.redis_prefix,
        publish_timeout_seconds=1.0,
    )
    body = payment_body()
    before = failures()
    receipt = await intake.accept(body, signed_headers(body))
    assert not receipt.duplicate
    assert not receipt.published
    assert failures() == before + 1  # counted here, with no sweep running anywhere
    logs = [raw async for raw in WebhookLog.get_pymongo_collection().find({})]
    assert [len(raw["outbox"]) for raw in logs] == [1]  # stored, its event waits for the sweep


async def test_a_broker_that_is_down_counts_a_failed_publish(
    settings: Settings, redis: Redis
) -> None:
    down = settings.model_copy(update={"rabbitmq_url": f"amqp://127.0.0.1:{closed_port()}/"})
    await accept_one(settings, redis, EventPublisher(make_broker(down), down.broker_prefix))


async def test_a_publish_the_broker_refuses_counts_a_failed_publish(
    settings: Settings, redis: Redis
) -> None:
    broker = make_broker(settings)
    await broker.connect()
    await declare_exchanges(broker, settings)
    try:
        # Connected, but the exchange does not exist: the broker refuses the publish.
        await accept_one(settings, redis, EventPublisher(broker, f"{settings.broker_prefix}gone."))
    finally:
        await broker.stop()
