"""Delayed retries, dead letters and confirmed publishing on the real RabbitMQ."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from faststream.rabbit import RabbitBroker
from paycore.kit.broker import (
    ATTEMPT_HEADER,
    LAST_ERROR_HEADER,
    Consumer,
    Delivery,
    EventPublisher,
    make_broker,
)
from paycore.kit.errors import DependencyUnavailable, UnroutableEvent
from paycore.kit.events import EventEnvelope, OutboxEvent
from paycore.testing import isolated_settings

DELAYS_MS = [100, 250, 400]


@dataclass
class Recorder:
    failures_before_success: dict[str, int]
    deliveries: dict[str, list[float]] = field(default_factory=dict)
    done: dict[str, asyncio.Event] = field(default_factory=dict)

    async def handle(self, delivery: Delivery) -> None:
        key = delivery.envelope.data["key"]
        self.deliveries.setdefault(key, []).append(time.monotonic())
        if len(self.deliveries[key]) <= self.failures_before_success[key]:
            raise DependencyUnavailable(f"simulated outage #{len(self.deliveries[key])}")
        self.done.setdefault(key, asyncio.Event()).set()


@pytest.fixture
async def rig() -> AsyncIterator[tuple[RabbitBroker, Consumer, EventPublisher, Recorder]]:
    settings = isolated_settings(retry_delays_ms=DELAYS_MS)
    broker = make_broker(settings)
    consumer = Consumer(broker, settings, "kit-test", "payment.exchange", ("payment.test",))
    recorder = Recorder({"always-fails": 99, "fails-twice": 2})
    consumer.subscribe(recorder.handle)
    await broker.connect()
    await consumer.declare()  # no archive: other routing keys stay unroutable
    await broker.start()
    yield broker, consumer, EventPublisher(broker, settings.broker_prefix), recorder
    for queue in [consumer.work, consumer.dead_letters, *consumer.retries]:
        declared = await broker.declare_queue(queue)
        await declared.delete(if_unused=False, if_empty=False)
    await broker.stop()


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_delay_queues_are_replicated_and_dead_letter_at_least_once(
    rig: tuple[RabbitBroker, Consumer, EventPublisher, Recorder],
) -> None:
    # A classic delay queue lives on one node: losing it loses every message waiting to retry.
    _, consumer, _, _ = rig
    async with httpx.AsyncClient(
        base_url="http://127.0.0.1:15672/api/queues/%2F/", auth=("guest", "guest")
    ) as management:
        for queue, delay in zip(consumer.retries, DELAYS_MS, strict=True):
            answer = await management.get(queue.name)
            assert answer.status_code == 200, answer.text
            described = answer.json()
            assert described["type"] == "quorum"
            assert described["arguments"]["x-message-ttl"] == delay
            assert described["arguments"]["x-dead-letter-strategy"] == "at-least-once"
            assert described["arguments"]["x-dead-letter-routing-key"] == consumer.name


async def test_failing_handler_is_retried_with_the_delays_in_order_then_dead_lettered(
    rig: tuple[RabbitBroker, Consumer, EventPublisher, Recorder],
) -> None:
    _, consumer, publisher, recorder = rig
    await publisher.publish(unlisted("payment.test", {"key": "always-fails"}))
    await publisher.publish(unlisted("payment.test", {"key": "fails-twice"}))

    deadline = time.monotonic() + 10
    dead = None
    while dead is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        dead = await consumer.take_dead_letter()
    assert dead is not None, "the always-failing message never reached the dead-letter queue"
    await dead.ack()

    assert len(recorder.deliveries["always-fails"]) == 1 + len(DELAYS_MS)
    for gap, delay_ms in zip(gaps(recorder.deliveries["always-fails"]), DELAYS_MS, strict=True):
        assert delay_ms / 1000 <= gap < delay_ms / 1000 + 0.5
    assert dead.headers[ATTEMPT_HEADER] == len(DELAYS_MS)
    assert "simulated outage #4" in str(dead.headers[LAST_ERROR_HEADER])

    await asyncio.wait_for(recorder.done["fails-twice"].wait(), timeout=5)
    assert len(recorder.deliveries["fails-twice"]) == 3
    assert await consumer.dead_letter_count() == 0


async def test_poison_message_goes_straight_to_the_dead_letter_queue(
    rig: tuple[RabbitBroker, Consumer, EventPublisher, Recorder],
) -> None:
    broker, consumer, _, recorder = rig
    await broker.publish(b"not json", queue=consumer.name, persist=True)
    deadline = time.monotonic() + 5
    dead = None
    while dead is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        dead = await consumer.take_dead_letter()
    assert dead is not None
    assert dead.body == b"not json"
    assert "validation error for EventEnvelope" in str(dead.headers[LAST_ERROR_HEADER])
    assert recorder.deliveries == {}
    await dead.ack()


async def test_replayed_dead_letter_is_handled_again(
    rig: tuple[RabbitBroker, Consumer, EventPublisher, Recorder],
) -> None:
    broker, consumer, _, recorder = rig
    recorder.failures_before_success["replayed"] = 0
    event = unlisted("payment.test", {"key": "replayed"})
    await broker.publish(
        event.envelope.model_dump_json().encode(),
        queue=consumer.dead_letters.name,
        persist=True,
        headers={ATTEMPT_HEADER: 3, LAST_ERROR_HEADER: "old bug"},
    )
    await asyncio.sleep(0.2)
    assert await consumer.replay_dead_letters() == 1
    await asyncio.wait_for(recorder.done.setdefault("replayed", asyncio.Event()).wait(), 5)
    assert await consumer.dead_letter_count() == 0


async def test_unroutable_publish_raises_instead_of_vanishing(
    rig: tuple[RabbitBroker, Consumer, EventPublisher, Recorder],
) -> None:
    _, _, publisher, _ = rig
    with pytest.raises(UnroutableEvent):
        await publisher.publish(unlisted("payment.nobody-listens", {"key": "x"}))


def unlisted(routing_key: str, data: dict[str, object]) -> OutboxEvent:
    """An event of a key paycore never publishes (`OutboxEvent.of` refuses those)."""
    return OutboxEvent(envelope=EventEnvelope(type=routing_key, data=data))
