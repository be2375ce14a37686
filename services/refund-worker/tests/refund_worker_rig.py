"""The refund-worker run in this process against the emulator, a spy queue on every exchange,
and paid payments (our documents plus a paid order at the emulator) to refund."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aio_pika.abc import AbstractQueue
from cashfree_emulator.testing import RunningEmulator
from faststream.rabbit import RabbitQueue
from paycore import testing
from paycore.invoices.models import Invoice
from paycore.kit.broker import topic_exchange
from paycore.kit.events import EXCHANGES, EventEnvelope
from paycore.kit.service import InfraSettings, Resources
from paycore.payments.models import Customer, Payment
from paycore.testing import SeenEvents, isolated_settings, running_service
from refund_worker.app import build_app
from refund_worker.settings import Settings

RETRY_DELAYS_MS = [100, 200, 300]


def worker_settings(
    emu: RunningEmulator, infra: InfraSettings | None = None, **overrides: Any
) -> Settings:
    """Settings against the emulator, on `infra`'s database and prefixes (else its own), with
    short timeouts and poll intervals."""
    infra = infra or isolated_settings(retry_delays_ms=RETRY_DELAYS_MS)
    values: dict[str, Any] = {
        **infra.model_dump(),
        "cashfree_app_id": emu.app_id,
        "cashfree_secret_key": emu.secret_key,
        "cashfree_base_url": emu.api_url,
        "cashfree_timeout_seconds": 0.5,
        "cashfree_max_retries": 1,
        "refund_poll_after_seconds": 0.3,
        "refund_poll_interval_seconds": 0.1,
        "refund_lock_seconds": 10,
    }
    return Settings(**(values | overrides))


def spy_queue(settings: Settings) -> RabbitQueue:
    return RabbitQueue(f"{settings.broker_prefix}test.spy", durable=False, auto_delete=False)


@dataclass
class Spy:
    """Every event published on any exchange while the worker runs."""

    queue: AbstractQueue
    seen: SeenEvents = field(default_factory=SeenEvents)

    async def events(self, event_type: str | None = None) -> list[EventEnvelope]:
        while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
            self.seen.add(message.body)
        return [e for e in self.seen.events if event_type is None or e.type == event_type]


@asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[tuple[Resources, Spy]]:
    """The refund-worker through its app's lifespan; its queues, exchanges and database are
    removed afterwards."""
    spy = spy_queue(settings)
    async with running_service(build_app(settings), settings, extra_queues=[spy]) as resources:
        assert resources.broker is not None
        queue = await resources.broker.declare_queue(spy)
        for family in EXCHANGES:
            exchange = topic_exchange(settings.broker_prefix, f"{family}.exchange")
            await queue.bind(await resources.broker.declare_exchange(exchange), "#")
        yield resources, Spy(queue)


async def paid_payment(
    emu: RunningEmulator,
    settings: Settings,
    amount: int = 10_000,
    *,
    customer: Customer | None = None,
    gateway_amount: int | None = None,
) -> Payment:
    """A SUCCESS payment of ours whose order exists and is PAID at the emulator, with its
    invoice (PAID)."""
    return await testing.paid_payment(
        settings, emu.control.pay, amount, customer=customer, gateway_amount=gateway_amount
    )


async def invoice_of(payment: Payment) -> Invoice:
    raw = await Invoice.get_pymongo_collection().find_one(
        {"invoice_number": payment.invoice_number}
    )
    assert raw is not None
    return Invoice.model_validate(raw)
