"""Helpers for tests against the real servers: isolated names per test run, a service run in
the test's process, waiting for what happens asynchronously, and removing what a test made."""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from beanie import Document
from faststream.rabbit import RabbitQueue
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase
from starlette.applications import Starlette

from paycore.gateway import (
    CashfreeGateway,
    GatewayAttemptStatus,
    GatewayCustomer,
    GatewayOrderRequest,
    GatewayPayment,
    idempotency_key,
    sign_webhook,
)
from paycore.invoices.models import Invoice, InvoiceClient, InvoiceItem, InvoiceStatus
from paycore.kit.broker import Consumer, archive_queue, make_broker, topic_exchange
from paycore.kit.crypto import Sealed
from paycore.kit.events import EXCHANGES, EventEnvelope
from paycore.kit.ids import new_id
from paycore.kit.mongo import connect_mongo, mongo_client
from paycore.kit.service import InfraSettings, Resources
from paycore.kit.settings import CashfreeSettings
from paycore.kit.state import finish_audit_drains
from paycore.payments.models import Customer, Payment, PaymentStatus, order_id_for
from paycore.payments.states import CAPTURED
from paycore.refunds.models import Refund
from paycore.refunds.service import RefundService

# A PII key for tests (base64 of 32 bytes); never a deployment's.
TEST_ENCRYPTION_KEY = "dGVzdC1vbmx5LXBpaS1rZXktMzItYnl0ZXMtbG9uZyE="


def unique_suffix() -> str:
    return uuid.uuid4().hex[:10]


def isolated_settings(**overrides: object) -> InfraSettings:
    """Settings pointing at the local servers (or MONGO_URI & co), with a database, queue
    prefix and Redis prefix of their own, and retry delays in milliseconds."""
    suffix = unique_suffix()
    values: dict[str, object] = {
        "app_env": "test",
        "mongo_db": f"test_{suffix}",
        "broker_prefix": f"test-{suffix}.",
        "redis_prefix": f"test:{suffix}:",
        "retry_delays_ms": [100, 200, 300],
        "outbox_poll_seconds": 0.05,
        "outbox_grace_seconds": 0.5,
        "queue_expires_ms": 300_000,
        "shutdown_grace_seconds": 5,
    }
    values.update(overrides)
    return InfraSettings(**values)  # type: ignore[arg-type]


class CommandCounter(monitoring.CommandListener):
    """Commands sent to one database (`database`; None counts nothing), by name and
    collection (`insert payments`, `findAndModify webhook_logs`, ...). Register it once per
    process with `pymongo.monitoring.register`, before the clients it should see are built (a
    listener cannot be removed); `counted()` False leaves a command out (a test's own reads)."""

    def __init__(self, counted: Callable[[], bool] = lambda: True) -> None:
        self.database: str | None = None
        self.counts: collections.Counter[str] = collections.Counter()
        self._counted = counted

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name != self.database or not self._counted():
            return
        collection = event.command.get(event.command_name)
        if isinstance(collection, str):
            self.counts[f"{event.command_name} {collection}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclass
class SeenEvents:
    """Events as an idempotent consumer sees them: one per event id.

    The outbox publishes at least once: when a write is slower than the relay's grace period
    (tests use 0.5 s; a busy machine gets there), the writer's fast publish and the sweep can both
    send the same event. Consumers absorb that by event id, and so do the tests' recorders;
    `copies` counts the extra deliveries."""

    events: list[EventEnvelope] = field(default_factory=list)
    copies: int = 0
    _ids: set[str] = field(default_factory=set)

    def add(self, body: bytes) -> None:
        event = EventEnvelope.model_validate_json(body)
        if event.event_id in self._ids:
            self.copies += 1
            return
        self._ids.add(event.event_id)
        self.events.append(event)


def mongo_uri() -> str:
    return os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")


async def create_payment(**overrides: Any) -> Payment:
    """Inserts a payment (SUCCESS of 10 000 paise unless told otherwise)."""
    status = overrides.pop("status", PaymentStatus.SUCCESS)
    amount = overrides.pop("amount", 10_000)
    captured = amount if status in CAPTURED else 0
    payment_id = overrides.pop("payment_id", new_id("pay"))
    values: dict[str, Any] = {
        "payment_id": payment_id,
        "order_id": order_id_for(payment_id),
        "user_id": "usr_test",
        "idempotency_key": unique_suffix(),
        "amount": amount,
        "currency": "INR",
        "status": status,
        "captured_amount": captured,
        "refundable_amount": captured,
        "customer": Customer(
            customer_id="cus_test",
            phone=Sealed(key_id="k1", nonce="", ciphertext=""),
            phone_hash="h",
        ),
    }
    values.update(overrides)
    payment = Payment(**values)
    await payment.insert()
    return payment


def gateway_attempt(
    order_id: str,
    status: GatewayAttemptStatus,
    amount: int = 10_000,
    gateway_payment_id: str = "cf_1",
) -> GatewayPayment:
    """Cashfree's answer about one UPI payment attempt on `order_id` (`amount` in paise)."""
    return GatewayPayment(
        order_id=order_id,
        gateway_payment_id=gateway_payment_id,
        status=status,
        amount_minor=amount,
        currency="INR",
        payment_method="upi",
    )


async def paid_payment(
    settings: CashfreeSettings,
    pay: Callable[[str], Awaitable[Mapping[str, Any]]],
    amount: int = 10_000,
    *,
    customer: Customer | None = None,
    client: InvoiceClient | None = None,
    email: str | None = None,
    gateway_amount: int | None = None,
) -> Payment:
    """A SUCCESS payment of `amount` paise with its PAID invoice, whose order exists at the
    gateway (`settings`: the emulator's) and was paid there by `pay(payment_session_id)` (the
    emulator's `control.pay`, which returns the attempt with its `cf_payment_id`).
    `gateway_amount`: the order's amount at the gateway when it should differ from ours;
    `email`: the customer's address the gateway holds; `customer`, `client`: our sealed
    customer and invoice client (placeholders unless given)."""
    order_id = f"ord_{uuid.uuid4().hex[:16]}"
    async with CashfreeGateway(settings) as gateway:
        order = await gateway.create_order(
            GatewayOrderRequest(
                order_id=order_id,
                amount_minor=gateway_amount or amount,
                currency="INR",
                customer=GatewayCustomer(customer_id="cus_test", phone="9898989898", email=email),
            ),
            idempotency_key=idempotency_key("create_order", order_id),
        )
    assert order.payment_session_id is not None
    attempt = await pay(order.payment_session_id)
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
        client=client
        or InvoiceClient(
            name="Client", email=Sealed(key_id="k1", nonce="", ciphertext=""), email_hash="h"
        ),
        items=[InvoiceItem(description="Work", quantity=1, unit_price=amount, amount=amount)],
        tax_rate_bps=0,
        subtotal=amount,
        tax=0,
        total=amount,
        status=InvoiceStatus.PAID,
        payment_id=payment.payment_id,
    ).insert()
    return payment


async def request_refund(payment_id: str, amount: int | None, reason: str = "returned") -> Refund:
    """Asks for a refund of `amount` paise (None: what is left) as the payment's owner would,
    through `RefundService.request`, with a fresh idempotency key."""
    service = RefundService()
    payment = await service.payments.get(payment_id)
    return await service.request(
        payment,
        amount=amount,
        reason=reason,
        user_id=payment.user_id,
        idempotency_key=unique_suffix(),
    )


def signed_webhook_headers(
    body: bytes, secret: bytes, timestamp_ms: int | None = None
) -> dict[str, str]:
    """The headers Cashfree sends a webhook with: its signature over the timestamp (in
    milliseconds, now unless given) and the raw body, and the API version."""
    timestamp = str(timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000)
    return {
        "content-type": "application/json",
        "x-webhook-signature": sign_webhook(body, timestamp, secret),
        "x-webhook-timestamp": timestamp,
        "x-webhook-version": "2025-01-01",
    }


def run_module(module: str, *args: str, env: Mapping[str, str]) -> str:
    """Runs `python -m module args` (an operator command) with `env` as its whole environment
    and returns what it printed; fails the test when it exits non-zero (with its output)."""
    done = subprocess.run(  # noqa: S603 - our own module, with the test's arguments
        [sys.executable, "-m", module, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def run_module_async(module: str, *args: str, env: Mapping[str, str]) -> tuple[int, str, str]:
    """Runs `python -m module args` with `env` as its whole environment without blocking the
    event loop (the test's servers keep running); returns (exit code, stdout, stderr), whatever
    the exit code, after at most 60 seconds."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Waits until `check()` holds, asking every `interval` seconds; raises AssertionError
    (naming the check) after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            name = getattr(check, "__name__", repr(check))
            raise AssertionError(f"not true within {timeout}s: {name}")
        await asyncio.sleep(interval)


@asynccontextmanager
async def isolated_database(
    models: Sequence[type[Document]], **overrides: object
) -> AsyncIterator[InfraSettings]:
    """A database of its own with `models` bound and indexed; dropped afterwards. Yields the
    settings (`isolated_settings(**overrides)`)."""
    settings = isolated_settings(**overrides)
    client = await connect_mongo(settings, models)
    try:
        yield settings
    finally:
        await finish_audit_drains()  # before the client closes under them
        await client.drop_database(settings.mongo_db)
        await client.close()


@asynccontextmanager
async def raw_database(
    prefix: str, *listeners: monitoring.CommandListener
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of its own (`<prefix>_<random>`) through PyMongo alone (no Beanie), every
    command it sends seen by `listeners`; dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri(), serverSelectionTimeoutMS=5000, event_listeners=listeners
    )
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


@asynccontextmanager
async def running_service(
    app: Starlette, settings: InfraSettings, *, extra_queues: Iterable[RabbitQueue] = ()
) -> AsyncIterator[Resources]:
    """A service's app run in this process through its lifespan; yields its `Resources`.
    Afterwards its consumer queues, the event archive, the exchanges, `extra_queues` and its
    database are removed (`remove_traces`)."""
    try:
        async with app.router.lifespan_context(app):
            resources: Resources = app.state.resources
            yield resources
    finally:
        started: Resources | None = getattr(app.state, "resources", None)
        if started is not None:
            await remove_traces(settings, started.consumers, extra_queues)


async def remove_traces(
    settings: InfraSettings,
    consumers: Iterable[Consumer] = (),
    extra_queues: Iterable[RabbitQueue] = (),
) -> None:
    """Deletes the queues and exchanges a test's services declared under its broker prefix
    (the consumers' work, retry and dead-letter queues, the event archive, the five topic
    exchanges) and drops its database."""
    consumers = list(consumers)
    broker = make_broker(settings)
    await broker.connect()
    try:
        queues = [archive_queue(settings), *extra_queues]
        exchanges = [topic_exchange(settings.broker_prefix, f"{f}.exchange") for f in EXCHANGES]
        for consumer in consumers:
            queues += [consumer.work, consumer.dead_letters, *consumer.retries]
            exchanges.append(consumer.dead_letter_exchange)
        for queue in queues:
            declared = await broker.declare_queue(queue)
            await declared.delete(if_unused=False, if_empty=False)
        for exchange in exchanges:
            declared_exchange = await broker.declare_exchange(exchange)
            await declared_exchange.delete()
    finally:
        await broker.stop()
    client = mongo_client(settings)
    await client.drop_database(settings.mongo_db)
    await client.close()
