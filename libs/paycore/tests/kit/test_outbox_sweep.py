"""The outbox sweep against the real servers: waiting documents go out together, so their
removals share writes and a sweep does not take a linger per document."""

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from paycore.kit.broker import EventPublisher, declare_exchanges, make_broker
from paycore.kit.events import EventEnvelope, OutboxEvent
from paycore.kit.outbox import OutboxRelay
from paycore.kit.redis import redis_client
from paycore.kit.state import to_mongo
from paycore.payments.models import Payment
from paycore.testing import isolated_database
from pymongo import monitoring


class Updates(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update" and event.command.get("update") == "payments":
            self.commands += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


UPDATES = Updates()
monitoring.register(UPDATES)  # before the clients below are made


@pytest.fixture
async def relay() -> AsyncIterator[OutboxRelay]:
    async with isolated_database([Payment]) as settings:
        broker = make_broker(settings)
        await broker.connect()
        await declare_exchanges(broker, settings)
        redis = redis_client(settings)
        try:
            yield OutboxRelay(
                Payment, EventPublisher(broker, settings.broker_prefix), redis, grace_seconds=5
            )
        finally:
            await redis.aclose()
            await broker.stop()


async def test_a_sweep_publishes_its_documents_together_and_shares_their_removals(
    relay: OutboxRelay,
) -> None:
    count = 30
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    waiting = []
    for n in range(count):
        envelope = EventEnvelope(type="payment.created", occurred_at=long_ago, data={"n": n})
        event = OutboxEvent(envelope=envelope)
        waiting.append({"_id": f"pay_{n}", "outbox": to_mongo([event])})
    await relay.collection.insert_many(waiting)
    UPDATES.commands = 0

    started = time.monotonic()
    assert await relay.sweep() == count
    took = time.monotonic() - started

    # One after another, each removal lingered on its own: 30 x 0.2 s.
    assert took < count * 0.2 / 3, took
    assert UPDATES.commands < count / 4
    assert await relay.collection.count_documents({"outbox.0": {"$exists": True}}) == 0
