"""The reconciler watches every consumer queue: the depth gauges show a backlog while its
consumer is not running, and a work queue over the overload setting raises one admin alert."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from faststream.rabbit import RabbitBroker
from paycore.alerts import AdminAlert
from paycore.alerts.queues import watch_queues
from paycore.kit.broker import Consumer, make_broker
from paycore.kit.service import InfraSettings
from prometheus_client import REGISTRY


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


async def test_a_backlog_over_the_setting_raises_one_queue_overload_alert(
    stopped_consumer: tuple[RabbitBroker, Consumer], database: InfraSettings
) -> None:
    broker, consumer = stopped_consumer
    # The reconciler's view of the queue: declared by name alone, as in reconciler.app.
    watched = Consumer(broker, database, "email-worker.emails", "", ())
    for number in range(3):
        await broker.publish(f"message {number}".encode(), queue=consumer.name, persist=True)
    for _ in range(50):  # the broker counts a confirmed message as ready within moments
        depths = await watch_queues([watched], overload=3)
        if depths["email-worker.emails"] == 3:
            break
        await asyncio.sleep(0.1)
    assert depths == {"email-worker.emails": 3}
    labels = {"queue": "email-worker.emails", "kind": "work"}
    assert REGISTRY.get_sample_value("paycore_queue_messages", labels) == 3
    assert REGISTRY.get_sample_value("paycore_queue_consumers", labels) == 0

    # Seen again (the next interval, or another replica): still one alert.
    await watch_queues([watched], overload=3)
    alerts = await AdminAlert.find_all().to_list()
    assert [(a.kind, a.detail) for a in alerts] == [
        ("queue_overload", {"queue": "email-worker.emails", "messages": 3, "threshold": 3})
    ]
    assert [e.envelope.type for e in alerts[0].outbox] == ["email.admin.alert"]

    # Below the setting: no alert.
    await AdminAlert.get_pymongo_collection().delete_many({})
    await watch_queues([watched], overload=4)
    assert await AdminAlert.find_all().to_list() == []
