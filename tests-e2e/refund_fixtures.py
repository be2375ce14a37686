"""Refunds end to end: the refund-worker and the email-worker together (in this process, or
the refund-worker as a process where a test kills it), the Cashfree emulator, the SMTP sink,
and a paid payment whose order is PAID at the emulator. The workers' settings are their own
test rigs' (`refund_worker_rig`, `email_worker_rig`), on one shared database and prefix."""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from cashfree_emulator.testing import RunningEmulator
from email_worker.app import build_app as build_email_worker
from email_worker.settings import Settings as EmailSettings
from email_worker_rig import worker_settings as email_worker_settings
from paycore import testing
from paycore.invoices.models import Invoice, InvoiceClient, InvoiceStatus
from paycore.kit.broker import Consumer, make_broker
from paycore.kit.crypto import FieldCipher, cipher_from
from paycore.kit.service import InfraSettings
from paycore.kit.settings import CashfreeSettings
from paycore.payments.models import Customer, Payment
from paycore.refunds.models import RefundStatus
from paycore.refunds.service import RefundService
from paycore.testing import isolated_settings, remove_traces
from refund_worker.app import build_app as build_refund_worker
from refund_worker.settings import Settings as RefundSettings
from refund_worker_rig import worker_settings as refund_worker_settings
from smtp_sink.testing import RunningSmtpSink
from starlette.applications import Starlette

BUYER = "buyer@example.com"
ENCRYPTION_KEY = base64.b64encode(os.urandom(32)).decode()

# Processes and two workers take longer than one worker alone.
eventually = functools.partial(testing.eventually, timeout=15.0)


def shared_infra() -> InfraSettings:
    return isolated_settings(retry_delays_ms=[100, 200, 300])


def refund_settings(infra: InfraSettings, emu: RunningEmulator) -> RefundSettings:
    return refund_worker_settings(emu, infra)


def email_settings(infra: InfraSettings, sink: RunningSmtpSink) -> EmailSettings:
    return email_worker_settings(sink, infra, payment_encryption_key=ENCRYPTION_KEY)


def cipher() -> FieldCipher:
    return cipher_from(base64.b64decode(ENCRYPTION_KEY), "k1")


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


def consumers(settings: InfraSettings) -> list[Consumer]:
    """The two workers' consumers, by name only (for removing their queues)."""
    broker = make_broker(settings)
    return [Consumer(broker, settings, *consumer) for consumer in CONSUMERS]


@asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[None]:
    async with app.router.lifespan_context(app):
        yield


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
        await remove_traces(infra, consumers(infra))


async def paid_payment(emu: RunningEmulator, settings: CashfreeSettings, amount: int) -> Payment:
    """A SUCCESS payment to BUYER (sealed with ENCRYPTION_KEY, so the emails reach the sink)
    with its PAID invoice, whose order is PAID at the emulator."""
    fields = cipher()
    customer = Customer(
        customer_id="cus_e2e",
        name=fields.seal("Asha", "customer.name"),
        email=fields.seal(BUYER, "customer.email"),
        email_hash=fields.lookup_hash(BUYER),
        phone=fields.seal("9898989898", "customer.phone"),
        phone_hash=fields.lookup_hash("9898989898"),
    )
    client = InvoiceClient(
        name="Asha",
        email=fields.seal(BUYER, "invoice.client.email"),
        email_hash=fields.lookup_hash(BUYER),
    )
    return await testing.paid_payment(
        settings, emu.control.pay, amount, customer=customer, client=client, email=BUYER
    )


async def invoice_status(payment: Payment) -> InvoiceStatus:
    raw = await Invoice.get_pymongo_collection().find_one(
        {"invoice_number": payment.invoice_number}
    )
    assert raw is not None
    return InvoiceStatus(raw["status"])


async def refund_status(refund_id: str) -> RefundStatus:
    return (await RefundService().get(refund_id)).status
