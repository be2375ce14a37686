"""Refunds end to end: the refund-worker and the email-worker together (in this process, or
the refund-worker as a process where a test kills it), the Cashfree emulator, the SMTP sink,
and a paid payment whose order is PAID at the emulator."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from cashfree_emulator.testing import RunningEmulator
from email_worker.app import build_app as build_email_worker
from email_worker.settings import Settings as EmailSettings
from paycore.gateway import CashfreeGateway, GatewayCustomer, GatewayOrderRequest, idempotency_key
from paycore.invoices.models import Invoice, InvoiceClient, InvoiceItem, InvoiceStatus
from paycore.kit.broker import Consumer, archive_queue, make_broker, topic_exchange
from paycore.kit.crypto import FieldCipher, cipher_from
from paycore.kit.events import EXCHANGES
from paycore.kit.mongo import mongo_client
from paycore.kit.service import InfraSettings, Resources
from paycore.kit.settings import CashfreeSettings
from paycore.payments.models import Customer, Payment
from paycore.refunds.models import Refund, RefundStatus
from paycore.refunds.service import RefundService
from paycore.testing import create_payment, isolated_settings, unique_suffix
from refund_worker.app import build_app as build_refund_worker
from refund_worker.settings import Settings as RefundSettings
from smtp_sink.testing import RunningSmtpSink
from starlette.applications import Starlette

BUYER = "buyer@example.com"
ENCRYPTION_KEY = base64.b64encode(os.urandom(32)).decode()


def shared_infra() -> InfraSettings:
    return isolated_settings(retry_delays_ms=[100, 200, 300])


def refund_settings(infra: InfraSettings, emu: RunningEmulator, **overrides: Any) -> RefundSettings:
    values: dict[str, Any] = {
        **infra.model_dump(),
        "cashfree_app_id": emu.app_id,
        "cashfree_secret_key": emu.secret_key,
        "cashfree_base_url": emu.api_url,
        "cashfree_timeout_seconds": 0.5,
        "cashfree_max_retries": 1,
        "refund_poll_after_seconds": 0.3,
        "refund_poll_interval_seconds": 0.1,
    }
    return RefundSettings(**(values | overrides))


def email_settings(infra: InfraSettings, sink: RunningSmtpSink) -> EmailSettings:
    return EmailSettings(
        **infra.model_dump(),
        smtp_url=sink.smtp_url,
        smtp_timeout_seconds=2,
        payment_encryption_key=ENCRYPTION_KEY,  # type: ignore[arg-type]
    )


def cipher() -> FieldCipher:
    return cipher_from(base64.b64decode(ENCRYPTION_KEY), "k1")


@asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[Resources]:
    async with app.router.lifespan_context(app):
        resources: Resources = app.state.resources
        yield resources


@dataclass
class Workers:
    infra: InfraSettings
    refunds: RefundSettings
    emails: EmailSettings


# Every consumer queue these tests can create (the refund-worker's also when it ran as a process).
CONSUMERS = (
    ("email-worker.emails", "email.exchange", ("email.#",)),
    ("refund-worker.refunds", "refund.exchange", ("refund.initiated",)),
)


@asynccontextmanager
async def running_workers(
    emu: RunningEmulator, sink: RunningSmtpSink, *, refund_worker: bool = True
) -> AsyncIterator[Workers]:
    """Both workers in this process on one database and queue prefix (the refund-worker left
    out when a test runs it as a process); everything they made is removed afterwards."""
    infra = shared_infra()
    workers = Workers(infra, refund_settings(infra, emu), email_settings(infra, sink))
    try:
        async with AsyncExitStack() as stack:
            # The email-worker first: the refund-worker, started last, stops first.
            await stack.enter_async_context(running(build_email_worker(workers.emails)))
            if refund_worker:
                await stack.enter_async_context(running(build_refund_worker(workers.refunds)))
            yield workers
    finally:
        await remove_traces(infra)


async def remove_traces(settings: InfraSettings) -> None:
    broker = make_broker(settings)
    await broker.connect()
    queues = [archive_queue(settings)]
    exchanges = [topic_exchange(settings.broker_prefix, f"{f}.exchange") for f in EXCHANGES]
    for name, exchange, keys in CONSUMERS:
        consumer = Consumer(broker, settings, name, exchange, keys)
        queues += [consumer.work, consumer.dead_letters, *consumer.retries]
        exchanges.append(consumer.dead_letter_exchange)
    for queue in queues:
        declared = await broker.declare_queue(queue)
        await declared.delete(if_unused=False, if_empty=False)
    for exchange in exchanges:
        declared_exchange = await broker.declare_exchange(exchange)
        await declared_exchange.delete()
    await broker.stop()
    client = mongo_client(settings)
    await client.drop_database(settings.mongo_db)
    await client.close()


def sealed_customer(email: str | None = BUYER) -> Customer:
    fields = cipher()
    return Customer(
        customer_id="cus_e2e",
        name=fields.seal("Asha", "customer.name"),
        email=fields.seal(email, "customer.email") if email else None,
        email_hash=fields.lookup_hash(email) if email else None,
        phone=fields.seal("9898989898", "customer.phone"),
        phone_hash=fields.lookup_hash("9898989898"),
    )


async def paid_payment(emu: RunningEmulator, settings: CashfreeSettings, amount: int) -> Payment:
    """A SUCCESS payment with its PAID invoice, whose order is PAID at the emulator."""
    order_id = f"ord_{uuid.uuid4().hex[:16]}"
    async with CashfreeGateway(settings) as gateway:
        order = await gateway.create_order(
            GatewayOrderRequest(
                order_id=order_id,
                amount_minor=amount,
                currency="INR",
                customer=GatewayCustomer(customer_id="cus_e2e", phone="9898989898", email=BUYER),
            ),
            idempotency_key=idempotency_key("create_order", order_id),
        )
    assert order.payment_session_id is not None
    attempt = await emu.control.pay(order.payment_session_id, "SUCCESS")
    invoice_number = f"INV-{unique_suffix()}"
    payment = await create_payment(
        order_id=order_id,
        amount=amount,
        cf_payment_id=str(attempt["cf_payment_id"]),
        invoice_number=invoice_number,
        customer=sealed_customer(),
    )
    fields = cipher()
    await Invoice(
        invoice_number=invoice_number,
        user_id=payment.user_id,
        currency="INR",
        issue_date=date(2026, 1, 1),
        due_date=date(2026, 1, 31),
        client=InvoiceClient(
            name="Asha",
            email=fields.seal(BUYER, "invoice.client.email"),
            email_hash=fields.lookup_hash(BUYER),
        ),
        items=[InvoiceItem(description="Order", quantity=1, unit_price=amount, amount=amount)],
        tax_rate_bps=0,
        subtotal=amount,
        tax=0,
        total=amount,
        status=InvoiceStatus.PAID,
        payment_id=payment.payment_id,
    ).insert()
    return payment


async def request_refund(payment_id: str, amount: int | None) -> Refund:
    service = RefundService()
    payment = await service.payments.get(payment_id)
    return await service.request(
        payment,
        amount=amount,
        reason="customer returned the goods",
        user_id=payment.user_id,
        idempotency_key=unique_suffix(),
    )


async def invoice_status(payment: Payment) -> InvoiceStatus:
    raw = await Invoice.get_pymongo_collection().find_one(
        {"invoice_number": payment.invoice_number}
    )
    assert raw is not None
    return InvoiceStatus(raw["status"])


async def refund_status(refund_id: str) -> RefundStatus:
    return (await RefundService().get(refund_id)).status


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.05)
