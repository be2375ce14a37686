"""`python -m paycore.dead_letters`, the operator command for every dead-letter queue, on real
dead letters in the real RabbitMQ: a refund and an email whose handler failed (a bug, so no
retry) are listed with their error, then replayed once the handler is fixed, or dropped."""

import os
from collections.abc import AsyncIterator

import pytest
from paycore.dead_letters import parser
from paycore.kit.broker import Consumer, Delivery, EventPublisher, make_broker
from paycore.kit.events import OutboxEvent
from paycore.kit.service import InfraSettings
from paycore.testing import eventually, isolated_database, isolated_settings, run_module_async
from paycore.webhooks.models import WebhookLog, WebhookStatus
from paycore.webhooks.repository import WebhookLogRepository

QUEUES = {
    # queue: (exchange, the routing key its service binds, an event it handles)
    "refund-worker.refunds": ("refund.exchange", "refund.initiated", "refund.initiated"),
    "email-worker.emails": ("email.exchange", "email.#", "email.payment.success"),
}

# Valid for both events' payload models (`paycore.events.catalog`): publishing checks it.
PAYLOAD = {
    "payment_id": "pay_1",
    "order_id": "order_1",
    "user_id": "user_1",
    "amount": 10_000,
    "currency": "INR",
    "status": "INITIATED",
    "refund_id": "rfd_1",
    "source": "API",
    "created_at": "2026-12-01T00:00:00+00:00",
}


class Handler:
    """Fails with a bug until it is fixed (a redeploy); counts what it handled."""

    def __init__(self) -> None:
        self.fixed = False
        self.handled: list[str] = []
        self.failed = 0

    async def handle(self, delivery: Delivery) -> None:
        if not self.fixed:
            self.failed += 1
            raise KeyError("template 'payment_success' not found")
        self.handled.append(delivery.envelope.event_id)


@pytest.fixture
async def settings() -> InfraSettings:
    return isolated_settings()


async def command(settings: InfraSettings, *args: str) -> tuple[int, str]:
    code, output, _ = await command_with_logs(settings, *args)
    return code, output


async def command_with_logs(settings: InfraSettings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "APP_ENV": "test",
        "MONGO_DB": settings.mongo_db,
        "BROKER_PREFIX": settings.broker_prefix,
        "REDIS_PREFIX": settings.redis_prefix,
        "RETRY_DELAYS_MS": str(list(settings.retry_delays_ms)),
        "QUEUE_EXPIRES_MS": str(settings.queue_expires_ms),
        "OPERATOR": "alice",
    }
    code, output, logs = await run_module_async("paycore.dead_letters", *args, env=env)
    assert code in (0, 1), logs[-2000:]
    # What it printed, and its logs (stderr).
    return code, output, logs


async def dead_letters_reach(consumer: Consumer, count: int) -> None:
    """Waits until `consumer`'s dead-letter queue holds `count` messages."""

    async def reached() -> bool:
        return await consumer.dead_letter_count() == count

    await eventually(reached, timeout=20)


Rig = tuple[str, Consumer, Handler, EventPublisher]


async def dead_lettered(rig: Rig, count: int = 1) -> list[OutboxEvent]:
    """Publishes `count` events the rig's handler fails on; returns them once dead-lettered."""
    queue, consumer, _, publisher = rig
    events = [OutboxEvent.of(QUEUES[queue][2], PAYLOAD) for _ in range(count)]
    for event in events:
        await publisher.publish(event)
    await dead_letters_reach(consumer, count)
    return events


@pytest.fixture(params=sorted(QUEUES))
async def rig(request: pytest.FixtureRequest, settings: InfraSettings) -> AsyncIterator[Rig]:
    queue = request.param
    exchange, binding, _ = QUEUES[queue]
    broker = make_broker(settings)
    consumer = Consumer(broker, settings, queue, exchange, (binding,))
    handler = Handler()
    consumer.subscribe(handler.handle)
    await broker.connect()
    await consumer.declare()
    await broker.start()
    yield queue, consumer, handler, EventPublisher(broker, settings.broker_prefix)
    for declared_queue, _ in consumer.queues():
        declared = await broker.declare_queue(declared_queue)
        await declared.delete(if_unused=False, if_empty=False)
    await broker.stop()


async def test_a_dead_letter_is_listed_then_replayed_once_the_cause_is_fixed(
    rig: Rig, settings: InfraSettings
) -> None:
    queue, consumer, handler, _ = rig
    [event] = await dead_lettered(rig)

    code, listed = await command(settings, "list", queue)
    assert code == 0, listed
    assert f"{queue}.dlq: 1 message(s)" in listed
    assert event.envelope.event_id in listed
    assert "template 'payment_success' not found" in listed
    assert await consumer.dead_letter_count() == 1  # listing leaves it in place

    handler.fixed = True
    code, output = await command(settings, "replay", queue, "--id", event.envelope.event_id)
    assert code == 0, output
    assert "1 replayed" in output

    async def handled() -> bool:
        return handler.handled == [event.envelope.event_id]

    await eventually(handled, timeout=20)
    assert await consumer.dead_letter_count() == 0

    # Nothing left: replaying an id that is not there says so.
    code, output = await command(settings, "replay", queue, "--id", "evt_missing")
    assert (code, output.strip().splitlines()[-1]) == (1, "0 replayed")


async def test_a_replayed_message_that_fails_again_is_replayed_once_not_in_a_loop(
    rig: Rig, settings: InfraSettings
) -> None:
    queue, consumer, handler, _ = rig
    [event] = await dead_lettered(rig)
    # Not fixed: the replayed message is dead-lettered again while the replay runs (it once was
    # taken again and again, 128 replays of one message, until the command happened to stop).
    for which in (("--all",), ("--id", event.envelope.event_id)):
        failed_before = handler.failed
        code, output = await command(settings, "replay", queue, *which)
        assert code == 0, output
        assert output.strip().splitlines()[-1] == "1 replayed", output
        await dead_letters_reach(consumer, 1)
        assert handler.failed == failed_before + 1


async def test_drop_deletes_only_the_named_dead_letter_and_prints_what_it_dropped(
    rig: Rig, settings: InfraSettings
) -> None:
    queue, consumer, _, _ = rig
    events = await dead_lettered(rig, 3)

    def listed_ids(output: str) -> list[str]:
        return [line.split('"id": "')[1].split('"')[0] for line in output.splitlines()[1:]]

    code, before = await command(settings, "list", queue)
    order = listed_ids(before)
    assert sorted(order) == sorted(e.envelope.event_id for e in events)
    doomed = order[1]

    # No drop without naming the message.
    with pytest.raises(SystemExit):
        parser().parse_args(["drop", queue])
    with pytest.raises(SystemExit):
        parser().parse_args(["drop", queue, "--all"])

    code, output, logs = await command_with_logs(settings, "drop", queue, "--id", doomed)
    assert code == 0, output
    dropped_line = output.strip().splitlines()[0]
    assert dropped_line.startswith(f"dropped {doomed}: ")
    assert f'"event_id": "{doomed}"' in dropped_line
    assert f'"routing_key": "{QUEUES[queue][2]}"' in dropped_line
    assert "template 'payment_success' not found" in dropped_line
    assert output.strip().splitlines()[-1] == "1 dropped"
    warnings = [line for line in logs.splitlines() if "WARNING" in line]
    assert any("dropped a dead letter" in line and doomed in line for line in warnings), logs

    # The others stay, in their order.
    assert await consumer.dead_letter_count() == 2
    code, after = await command(settings, "list", queue)
    assert listed_ids(after) == [order[0], order[2]]

    # An id that is not there: nothing is dropped, and the command says so.
    code, output = await command(settings, "drop", queue, "--id", doomed)
    assert (code, output.strip().splitlines()[-1]) == (1, "0 dropped")
    assert await consumer.dead_letter_count() == 2


async def test_a_dropped_webhook_dead_letter_keeps_its_log_marked_dropped() -> None:
    queue = "webhook-processor.webhooks"
    async with isolated_database([WebhookLog]) as settings:
        broker = make_broker(settings)
        consumer = Consumer(broker, settings, queue, "webhook.exchange", ("webhook.cashfree.#",))
        consumer.subscribe(Handler().handle)
        await broker.connect()
        await consumer.declare()
        await broker.start()
        try:
            logs = WebhookLogRepository()
            log = WebhookLog(
                log_id="whk_malformed",
                event_id="sha256:abc",
                event_type="UNKNOWN",
                body_sha256="abc",
                signature="sig",
                timestamp="1764547200000",
                status=WebhookStatus.FAILED,
                dead_lettered=True,
            )
            await logs.insert(log)
            event = OutboxEvent.of(
                "webhook.cashfree.received", {"log_id": log.log_id, "event_type": "UNKNOWN"}
            )
            await EventPublisher(broker, settings.broker_prefix).publish(event)
            await dead_letters_reach(consumer, 1)
            code, output = await command(settings, "drop", queue, "--id", log.log_id)
            assert code == 0, output
            assert output.strip().splitlines()[-1] == "1 dropped"
            assert await consumer.dead_letter_count() == 0

            kept = await logs.get(log.log_id)
            assert kept is not None  # the record of what Cashfree sent stays
            assert (kept.status, kept.dead_lettered) == (WebhookStatus.FAILED, False)
            assert kept.dropped_at is not None
            assert "dropped" in (kept.reason or "")
            assert [each.log_id for each in await logs.list_dead_lettered()] == []
        finally:
            for declared_queue, _ in consumer.queues():
                declared = await broker.declare_queue(declared_queue)
                await declared.delete(if_unused=False, if_empty=False)
            await broker.stop()
