"""The refund-worker run in this process against the emulator, a spy queue on every exchange,
and paid payments (our documents plus a paid order at the emulator) to refund."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aio_pika.abc import AbstractQueue
from cashfree_emulator.testing import RunningEmulator
from faststream.rabbit import RabbitQueue
from paycore.gateway import CashfreeGateway, GatewayCustomer, GatewayOrderRequest, idempotency_key
from paycore.invoices.models import Invoice, InvoiceClient, InvoiceItem
from paycore.kit.broker import archive_queue, make_broker, topic_exchange
from paycore.kit.crypto import Sealed
from paycore.kit.events import EXCHANGES, EventEnvelope
from paycore.kit.mongo import mongo_client
from paycore.kit.service import Resources
from paycore.payments.models import Customer, Payment
from paycore.refunds.models import Refund
from paycore.refunds.service import RefundService
from paycore.testing import SeenEvents, create_payment, isolated_settings, unique_suffix
from refund_worker.app import build_app
from refund_worker.settings import Settings
from starlette.applications import Starlette

RETRY_DELAYS_MS = [100, 200, 300]


def worker_settings(emu: RunningEmulator, **overrides: Any) -> Settings:
    infra = isolated_settings(retry_delays_ms=RETRY_DELAYS_MS)
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
    app: Starlette = build_app(settings)
    try:
        async with app.router.lifespan_context(app):
            resources: Resources = app.state.resources
            assert resources.broker is not None
            queue = await resources.broker.declare_queue(spy_queue(settings))
            for family in EXCHANGES:
                exchange = topic_exchange(settings.broker_prefix, f"{family}.exchange")
                await queue.bind(await resources.broker.declare_exchange(exchange), "#")
            yield resources, Spy(queue)
    finally:
        started = getattr(app.state, "resources", None)
        if started is not None:
            await remove_traces(settings, started)


async def remove_traces(settings: Settings, resources: Resources) -> None:
    broker = make_broker(settings)
    await broker.connect()
    queues = [archive_queue(settings), spy_queue(settings)]
    for consumer in resources.consumers:
        queues += [consumer.work, consumer.dead_letters, *consumer.retries]
    for queue in queues:
        declared = await broker.declare_queue(queue)
        await declared.delete(if_unused=False, if_empty=False)
    for exchange in [
        *(topic_exchange(settings.broker_prefix, f"{family}.exchange") for family in EXCHANGES),
        *(consumer.dead_letter_exchange for consumer in resources.consumers),
    ]:
        declared_exchange = await broker.declare_exchange(exchange)
        await declared_exchange.delete()
    await broker.stop()
    client = mongo_client(settings)
    await client.drop_database(settings.mongo_db)
    await client.close()


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
    order_id = f"ord_{uuid.uuid4().hex[:16]}"
    async with CashfreeGateway(settings) as gateway:
        order = await gateway.create_order(
            GatewayOrderRequest(
                order_id=order_id,
                amount_minor=gateway_amount or amount,
                currency="INR",
                customer=GatewayCustomer(customer_id="cus_1", phone="9898989898"),
            ),
            idempotency_key=idempotency_key("create_order", order_id),
        )
    assert order.payment_session_id is not None
    attempt = await emu.control.pay(order.payment_session_id, "SUCCESS")
    invoice_number = f"INV-{unique_suffix()}"
    overrides: dict[str, Any] = {
        "order_id": order_id,
        "amount": amount,
        "cf_payment_id": str(attempt["cf_payment_id"]),
        "invoice_number": invoice_number,
    }
    if customer is not None:
        overrides["customer"] = customer
    payment = await create_payment(**overrides)
    await Invoice(
        invoice_number=invoice_number,
        user_id=payment.user_id,
        currency="INR",
        issue_date=date(2026, 1, 1),
        due_date=date(2026, 1, 31),
        client=InvoiceClient(
            name="Client", email=Sealed(key_id="k1", nonce="", ciphertext=""), email_hash="h"
        ),
        items=[InvoiceItem(description="Work", quantity=1, unit_price=amount, amount=amount)],
        tax_rate_bps=0,
        subtotal=amount,
        tax=0,
        total=amount,
        status="PAID",
        payment_id=payment.payment_id,
    ).insert()
    return payment


async def request_refund(payment_id: str, amount: int | None, reason: str = "returned") -> Refund:
    service = RefundService()
    payment = await service.payments.get(payment_id)
    return await service.request(
        payment,
        amount=amount,
        reason=reason,
        user_id=payment.user_id,
        idempotency_key=unique_suffix(),
    )


async def invoice_of(payment: Payment) -> Invoice:
    raw = await Invoice.get_pymongo_collection().find_one(
        {"invoice_number": payment.invoice_number}
    )
    assert raw is not None
    return Invoice.model_validate(raw)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Waits until `check()` holds; fails the test after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.05)
