"""A refund from request to the customer's inbox: refund-worker, email-worker, the Cashfree
emulator and the SMTP sink, on the real broker and database."""

from collections.abc import AsyncIterator

import pytest
from cashfree_emulator.testing import RunningEmulator, running_emulator
from paycore.gateway import CashfreeGateway, GatewayRefundStatus
from paycore.invoices.models import InvoiceStatus
from paycore.payments.models import PaymentStatus
from paycore.payments.service import PaymentService
from paycore.refunds.models import RefundStatus
from paycore.testing import request_refund
from refund_fixtures import (
    BUYER,
    eventually,
    invoice_status,
    paid_payment,
    refund_status,
    running_workers,
)
from smtp_sink.testing import RunningSmtpSink, running_smtp_sink


@pytest.fixture(scope="module")
async def emu() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(refund_delay_seconds=0.05) as running:
        yield running


@pytest.fixture(scope="module")
async def sink() -> AsyncIterator[RunningSmtpSink]:
    async with running_smtp_sink() as running:
        yield running


@pytest.fixture(autouse=True)
async def fresh(emu: RunningEmulator, sink: RunningSmtpSink) -> None:
    await emu.control.reset()
    sink.inbox.clear()


async def test_partial_refund_then_the_rest_two_gateway_refunds_and_two_emails(
    emu: RunningEmulator, sink: RunningSmtpSink
) -> None:
    async with running_workers(emu, sink) as workers:
        payment = await paid_payment(emu, workers.refunds, 10_000)
        first = await request_refund(payment.payment_id, 4_000)
        [first_mail] = await sink.inbox.wait_for(1, to=BUYER, timeout=15)
        assert first_mail.subject == "Refund processed: ₹40.00"
        assert await refund_status(first.refund_id) == RefundStatus.SUCCESS

        rest = await request_refund(payment.payment_id, None)
        mails = await sink.inbox.wait_for(2, to=BUYER, timeout=15)
        assert [m.subject for m in mails] == [
            "Refund processed: ₹40.00",
            "Refund processed: ₹60.00",
        ]
        assert mails[1].text is not None
        assert rest.refund_id in mails[1].text

        async def invoice_refunded() -> bool:
            return await invoice_status(payment) == InvoiceStatus.REFUNDED

        await eventually(invoice_refunded)
        stored = await PaymentService().get(payment.payment_id)
        assert (stored.status, stored.refunded_amount) == (PaymentStatus.REFUNDED, 10_000)
        async with CashfreeGateway(workers.refunds) as gateway:
            at_gateway = await gateway.list_refunds(payment.order_id)
        assert sorted((r.amount_minor, r.status) for r in at_gateway) == [
            (4_000, GatewayRefundStatus.SUCCEEDED),
            (6_000, GatewayRefundStatus.SUCCEEDED),
        ]
        assert len(sink.inbox.messages()) == 2


async def test_cancelled_refund_releases_the_amount_and_the_email_says_so(
    emu: RunningEmulator, sink: RunningSmtpSink
) -> None:
    async with running_workers(emu, sink) as workers:
        payment = await paid_payment(emu, workers.refunds, 10_000)
        await emu.control.refund_fault("cancelled")
        refund = await request_refund(payment.payment_id, 2_500)
        [mail] = await sink.inbox.wait_for(1, to=BUYER, timeout=15)
        assert mail.subject == "Refund not completed: ₹25.00"
        assert mail.text is not None
        assert "could not be completed (cancelled)" in mail.text
        assert await refund_status(refund.refund_id) == RefundStatus.CANCELLED

        async def refund_failed_on_invoice() -> bool:
            return await invoice_status(payment) == InvoiceStatus.REFUND_FAILED

        await eventually(refund_failed_on_invoice)
        stored = await PaymentService().get(payment.payment_id)
        assert (stored.status, stored.refundable_amount) == (PaymentStatus.SUCCESS, 10_000)
