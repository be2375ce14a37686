"""The outbox relay publishes the events written with each state change: at once normally, and
after a broker outage once the broker is back, each event exactly once."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
from cashfree_emulator.testing import RunningEmulator
from paycore.payments.models import Payment
from payments_api.settings import Settings
from payments_api_testing import ApiClient, api_client, bound_queue, drain, new_user

BROKER_SCRIPT = Path(__file__).resolve().parents[3] / "infra" / "local" / "broker.sh"


async def outbox_of(payment_id: str) -> list[dict]:
    raw = await Payment.get_pymongo_collection().find_one({"payment_id": payment_id})
    assert raw is not None
    return list(raw["outbox"])


async def wait_for_empty_outbox(payment_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await outbox_of(payment_id):
        assert time.monotonic() < deadline, "outbox never emptied"
        await asyncio.sleep(0.1)


def broker(command: str) -> None:
    subprocess.run([str(BROKER_SCRIPT), command], check=True, timeout=120)


@pytest.fixture
async def relaying(emu: RunningEmulator) -> AsyncIterator[ApiClient]:
    async with api_client(emu, outbox_poll_seconds=0.1, outbox_grace_seconds=1.0) as client:
        yield client


async def durable_watch_queue(settings: Settings, name: str) -> None:
    """A durable queue bound to payment.exchange: it outlives a broker restart, unlike an
    exclusive one."""
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, durable=True)
        await queue.bind(f"{settings.broker_prefix}payment.exchange", routing_key="payment.#")


async def collect(settings: Settings, name: str, seconds: float) -> list[dict]:
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, durable=True)
        bodies = await drain(queue, settle_seconds=seconds)
        await queue.delete(if_unused=False, if_empty=False)
        return bodies


async def test_events_are_published_once_right_away(relaying: ApiClient) -> None:
    async with bound_queue(relaying.settings, "payment.exchange", "payment.#") as payments:
        response = await relaying.create_payment(new_user())
        payment_id = response.json()["data"]["payment_id"]
        await wait_for_empty_outbox(payment_id, timeout=5)
        events = [
            e
            for e in await drain(payments, settle_seconds=1.5)
            if e["data"]["payment_id"] == payment_id
        ]
    assert [event["type"] for event in events] == ["payment.created"]
    assert events[0]["data"]["status"] == "PENDING"


async def test_events_written_during_a_broker_outage_arrive_once_after_it(
    relaying: ApiClient,
) -> None:
    watch = f"{relaying.settings.broker_prefix}test.watch"
    await durable_watch_queue(relaying.settings, watch)
    try:
        broker("stop")
        response = await relaying.create_payment(new_user())
        assert response.status_code == 201  # the request never waits on the broker
        payment_id = response.json()["data"]["payment_id"]
        await asyncio.sleep(1.5)  # past the grace period: the sweep has tried too
        waiting = {event["envelope"]["type"] for event in await outbox_of(payment_id)}
        assert waiting == {"payment.created", "analytics.payment.created"}
    finally:
        broker("start")
    await wait_for_empty_outbox(payment_id, timeout=60)
    events = [
        event
        for event in await collect(relaying.settings, watch, seconds=3.0)
        if event["data"]["payment_id"] == payment_id
    ]
    assert [event["type"] for event in events] == ["payment.created"]
