"""The reconciler watches every consumer queue: the depth gauges show a backlog while its
consumer is not running, and a work queue over the overload setting raises one admin alert."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from faststream.rabbit import RabbitBroker
from paycore.alerts import AdminAlert
from paycore.alerts.queues import watch_queues
from paycore.kit.broker import Consumer, make_broker
from paycore.kit.redis import redis_key
from paycore.kit.service import InfraSettings
from prometheus_client import REGISTRY
from redis.asyncio import Redis


@pytest.fixture
async def stopped_consumer(database: InfraSettings) -> AsyncIterator[tuple[RabbitBroker, Consumer]]:
    """The email worker's queues with nobody consuming them (the worker is down)."""
    broker = make_broker(database)
    await broker.connect()
    consumer = Consumer(broker, database, "email-worker.emails", "email.exchange", ("email.#",))
    await consumer.declare()
    yield broker, consumer
    for queue, _ in consumer.queues():
        declared = await broker.declare_queue(queue)
        await declared.delete(if_unused=False, if_empty=False)
    await broker.stop()


async def backlog_of_three(
    broker: RabbitBroker, consumer: Consumer, database: InfraSettings
) -> Consumer:
    """Three messages in the stopped consumer's queue, as the reconciler reads it (declared
    by name alone, as in reconciler.app), once the broker counts them."""
    watched = Consumer(broker, database, "email-worker.emails", "", ())
    for number in range(3):
        await broker.publish(f"message {number}".encode(), queue=consumer.name, persist=True)
    for _ in range(50):  # the broker counts a confirmed message as ready within moments
        depths = await consumer.report_depths()
        if depths[consumer.name] == 3:
            break
        await asyncio.sleep(0.1)
    assert depths[consumer.name] == 3
    return watched


async def test_a_backlog_over_the_setting_raises_one_queue_overload_alert(
    stopped_consumer: tuple[RabbitBroker, Consumer], database: InfraSettings, redis: Redis
) -> None:
    broker, consumer = stopped_consumer
    watched = await backlog_of_three(broker, consumer, database)
    prefix = database.redis_prefix
    depths = await watch_queues([watched], overload=3, redis=redis, prefix=prefix)
    assert depths == {"email-worker.emails": 3}
    labels = {"queue": "email-worker.emails", "kind": "work"}
    assert REGISTRY.get_sample_value("paycore_queue_messages", labels) == 3
    assert REGISTRY.get_sample_value("paycore_queue_consumers", labels) == 0

    # Seen again (the next interval, or another replica): still one alert.
    await watch_queues([watched], overload=3, redis=redis, prefix=prefix)
    alerts = await AdminAlert.find_all().to_list()
    assert [(a.kind, a.detail) for a in alerts] == [
        ("queue_overload", {"queue": "email-worker.emails", "messages": 3, "threshold": 3})
    ]
    assert [e.envelope.type for e in alerts[0].outbox] == ["email.admin.alert"]

    # Below the setting: no alert.
    await AdminAlert.get_pymongo_collection().delete_many({})
    await watch_queues([watched], overload=4, redis=redis, prefix=prefix)
    assert await AdminAlert.find_all().to_list() == []


async def test_an_overload_straddling_a_calendar_hour_is_one_alert(
    stopped_consumer: tuple[RabbitBroker, Consumer], database: InfraSettings, redis: Redis
) -> None:
    # Deduplicated per calendar hour, an overload first seen just before an hour's end and
    # seen again just after it raised two alerts within seconds.
    broker, consumer = stopped_consumer
    watched = await backlog_of_three(broker, consumer, database)
    # First seen 30 s before the calendar hour that began last: the incident still running.
    first_seen = int(time.time()) // 3600 * 3600 - 30
    key = redis_key(database.redis_prefix, "alert", "queue_overload", "email-worker.emails")
    await redis.set(key, first_seen, ex=600)
    for _ in range(2):
        await watch_queues([watched], overload=3, redis=redis, prefix=database.redis_prefix)
    since = datetime.fromtimestamp(first_seen, UTC).isoformat()
    alerts = await AdminAlert.find_all().to_list()
    assert [a.alert_id for a in alerts] == [f"queue_overload:email-worker.emails:{since}"]
