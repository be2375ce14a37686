"""The real webhook pipeline for tests and benchmarks: the emulator (its own thread), the
ingress behind uvicorn on a free port and the processor, both on the caller's event loop (one
loop, so they share the Beanie binding with the test), against the real servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import uvicorn
from cashfree_emulator.testing import RunningEmulator, running_emulator
from faststream.rabbit import RabbitBroker, RabbitQueue
from paycore.gateway import (
    CashfreeGateway,
    GatewayCustomer,
    GatewayOrderRequest,
    idempotency_key,
)
from paycore.invoices.models import Invoice, InvoiceClient, InvoiceItem
from paycore.kit.broker import make_broker, topic_exchange
from paycore.kit.crypto import Sealed
from paycore.kit.events import EventEnvelope
from paycore.kit.mongo import connect_mongo
from paycore.kit.service import InfraSettings
from paycore.payments.models import Payment, PaymentStatus
from paycore.testing import (
    TEST_ENCRYPTION_KEY,
    SeenEvents,
    create_payment,
    eventually,
    isolated_settings,
    signed_webhook_headers,
    unique_suffix,
)
from paycore.webhooks.models import WebhookLog
from paycore.webhooks.repository import from_mongo
from starlette.applications import Starlette
from webhook_ingress.app import build_app as build_ingress
from webhook_ingress.settings import Settings as IngressSettings
from webhook_processor.app import build_app as build_processor
from webhook_processor.settings import Settings as ProcessorSettings
from webhook_processor.wiring import MODELS

WEBHOOK_PATH = "/api/v1/webhooks/cashfree"
SECRET = "TEST_SECRET_KEY"  # the emulator's default merchant secret, also its webhook key
APP_ID = "TEST_APP_ID"


def ingress_settings(base: InfraSettings, **overrides: Any) -> IngressSettings:
    values = {**base.model_dump(), "service_name": "webhook-ingress", "port": 8001}
    values |= {
        "cashfree_webhook_secret": SECRET,
        "payment_encryption_key": TEST_ENCRYPTION_KEY,
        **overrides,
    }
    return IngressSettings(**values)


def processor_settings(base: InfraSettings, api_url: str, **overrides: Any) -> ProcessorSettings:
    values = {**base.model_dump(), "service_name": "webhook-processor", "port": 9101}
    values |= {
        "cashfree_app_id": APP_ID,
        "cashfree_secret_key": SECRET,
        "cashfree_base_url": api_url,
        "cashfree_max_retries": 0,
        "cashfree_timeout_seconds": 5,
        "queue_report_seconds": 0.5,
        "payment_encryption_key": TEST_ENCRYPTION_KEY,
        **overrides,
    }
    return ProcessorSettings(**values)


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serving(app: Starlette, sock: socket.socket) -> AsyncIterator[str]:
    """Serves `app` (with its lifespan) with uvicorn on this event loop; yields its URL."""
    config = uvicorn.Config(
        app, lifespan="on", log_level="warning", access_log=False, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("ingress did not start")
        if time.monotonic() > deadline:
            raise RuntimeError("ingress did not start in time")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def lifespan_of(app: Starlette) -> AsyncIterator[Starlette]:
    async with app.router.lifespan_context(app):
        yield app


@dataclass
class EventTap:
    """A queue bound to one exchange that records every event published there."""

    broker: RabbitBroker
    queue: RabbitQueue
    seen: SeenEvents = field(default_factory=SeenEvents)

    async def drain(self) -> list[EventEnvelope]:
        declared = await self.broker.declare_queue(self.queue)
        while (message := await declared.get(no_ack=True, fail=False)) is not None:
            self.seen.add(message.body)
        return self.seen.events

    async def of_type(self, event_type: str, **data: Any) -> list[EventEnvelope]:
        await self.drain()
        return [
            event
            for event in self.seen.events
            if event.type == event_type and all(event.data.get(k) == v for k, v in data.items())
        ]

    async def one_arrives(self, event_type: str, timeout: float = 10, **data: Any) -> None:
        """Waits until exactly one event of `event_type` with these data fields was seen."""

        async def one_seen() -> bool:
            return len(await self.of_type(event_type, **data)) == 1

        await eventually(one_seen, timeout=timeout)


@dataclass
class Pipeline:
    base: InfraSettings
    emulator: RunningEmulator
    ingress_url: str
    ingress: IngressSettings
    processor: ProcessorSettings
    gateway: CashfreeGateway
    broker: RabbitBroker
    taps: dict[str, EventTap] = field(default_factory=dict)

    @property
    def webhook_url(self) -> str:
        return self.ingress_url + WEBHOOK_PATH

    async def tap(self, exchange: str, routing_key: str = "#") -> EventTap:
        """Records the events of `exchange` from now on (call before causing them)."""
        prefix = self.base.broker_prefix
        queue = RabbitQueue(f"{prefix}test.tap.{exchange}.{unique_suffix()}", auto_delete=True)
        declared = await self.broker.declare_queue(queue)
        target = await self.broker.declare_exchange(topic_exchange(prefix, exchange))
        await declared.bind(target, routing_key=routing_key)
        tap = EventTap(self.broker, queue)
        self.taps[exchange] = tap
        return tap

    async def new_order(
        self, amount: int = 10_000, *, with_invoice: bool = True
    ) -> tuple[Payment, str]:
        """A PENDING payment of ours, its invoice, and the same order at the emulator."""
        invoice_number = f"INV-{unique_suffix()}" if with_invoice else None
        payment = await create_payment(
            status=PaymentStatus.PENDING, amount=amount, invoice_number=invoice_number
        )
        if invoice_number is not None:
            await create_invoice(invoice_number, payment)
        order = await self.gateway.create_order(
            GatewayOrderRequest(
                order_id=payment.order_id,
                amount_minor=amount,
                currency="INR",
                customer=GatewayCustomer(customer_id="cus_test", phone="9999999999"),
            ),
            idempotency_key=idempotency_key("order", payment.order_id),
        )
        assert order.payment_session_id is not None
        return payment, order.payment_session_id

    async def post_signed(self, body: bytes, **headers: str) -> httpx.Response:
        """Sends a webhook signed as Cashfree would, straight to the ingress."""
        signed = signed_webhook_headers(body, SECRET.encode()) | headers
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(self.webhook_url, content=body, headers=signed)

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment variables for a processor (or its ops command) in another process."""
        settings = self.processor
        env = {
            **os.environ,
            "APP_ENV": "test",
            "LOG_LEVEL": "INFO",
            "MONGO_URI": settings.mongo_uri,
            "MONGO_DB": settings.mongo_db,
            "BROKER_PREFIX": settings.broker_prefix,
            "QUEUE_EXPIRES_MS": str(settings.queue_expires_ms),
            "REDIS_PREFIX": settings.redis_prefix,
            "RABBITMQ_URL": settings.rabbitmq_url,
            "REDIS_URL": settings.redis_url,
            "RETRY_DELAYS_MS": json.dumps(settings.retry_delays_ms),
            "OUTBOX_POLL_SECONDS": str(settings.outbox_poll_seconds),
            "OUTBOX_GRACE_SECONDS": str(settings.outbox_grace_seconds),
            "CASHFREE_APP_ID": APP_ID,
            "CASHFREE_SECRET_KEY": SECRET,
            "CASHFREE_BASE_URL": str(settings.cashfree_base_url),
            "PAYMENT_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        }
        return env | overrides

    async def logs(self, **query: Any) -> list[WebhookLog]:
        cursor = WebhookLog.get_pymongo_collection().find(query)
        return [from_mongo(raw) async for raw in cursor]


async def create_invoice(invoice_number: str, payment: Payment) -> Invoice:
    sealed = Sealed(key_id="k1", nonce="", ciphertext="")
    invoice = Invoice(
        invoice_number=invoice_number,
        user_id=payment.user_id,
        currency=payment.currency,
        issue_date=date.today(),
        due_date=date.today(),
        client=InvoiceClient(name="Client", email=sealed, email_hash="h"),
        items=[
            InvoiceItem(
                description="item", quantity=1, unit_price=payment.amount, amount=payment.amount
            )
        ],
        tax_rate_bps=0,
        subtotal=payment.amount,
        tax=0,
        total=payment.amount,
        payment_id=payment.payment_id,
    )
    await invoice.insert()
    return invoice


@contextlib.asynccontextmanager
async def running_pipeline(
    *,
    processor: bool = True,
    emulator_settings: dict[str, Any] | None = None,
    ingress_overrides: dict[str, Any] | None = None,
    processor_overrides: dict[str, Any] | None = None,
    base: InfraSettings | None = None,
) -> AsyncIterator[Pipeline]:
    base = base or isolated_settings()
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    emulator_options = {"webhook_retry_scale": 0.001, "refund_delay_seconds": 0.05}
    emulator_options |= emulator_settings or {}
    async with running_emulator(webhook_urls=[url + WEBHOOK_PATH], **emulator_options) as emu:
        ingress = ingress_settings(base, **(ingress_overrides or {}))
        processor_config = processor_settings(base, emu.api_url, **(processor_overrides or {}))
        gateway = CashfreeGateway(processor_config)
        broker = make_broker(base)
        async with contextlib.AsyncExitStack() as stack:
            await broker.connect()
            stack.push_async_callback(broker.stop)
            stack.push_async_callback(gateway.aclose)
            ingress_url = await stack.enter_async_context(serving(build_ingress(ingress), sock))
            if processor:
                await stack.enter_async_context(lifespan_of(build_processor(processor_config)))
            else:
                # No processor: bind the domain models for the test all the same.
                client = await connect_mongo(base, MODELS)
                stack.push_async_callback(client.close)
            pipeline = Pipeline(base, emu, ingress_url, ingress, processor_config, gateway, broker)
            try:
                yield pipeline
            finally:
                client = WebhookLog.get_pymongo_collection().database.client
                await client.drop_database(base.mongo_db)


async def wait_for_logs(
    pipeline: Pipeline, count: int, timeout: float = 10, **query: object
) -> list[WebhookLog]:
    """Waits until `count` logs match `query` and every one is processed (final status and
    the fields set with it, such as `order_id`, are there); returns them."""

    async def done() -> bool:
        logs = await pipeline.logs(**query)
        return len(logs) >= count and all(log.processed_at is not None for log in logs)

    await eventually(done, timeout=timeout)
    return await pipeline.logs(**query)
