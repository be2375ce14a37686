"""The refund-worker killed (SIGKILL) while Cashfree is acting on its create-refund call: the
restarted worker finds the refund at Cashfree instead of making a second one."""

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cashfree_emulator.testing import RunningEmulator, running_emulator
from e2e_support import ServiceProcess, isolated_env, start_service
from paycore.audit.models import AuditRecord
from paycore.gateway import CashfreeGateway
from paycore.invoices.models import Invoice
from paycore.kit.mongo import connect_mongo
from paycore.payments.models import Payment, Transaction
from paycore.payments.service import PaymentService
from paycore.refunds.models import Refund, RefundStatus
from paycore.testing import isolated_settings, remove_traces, request_refund
from refund_fixtures import consumers, eventually, paid_payment, refund_settings, refund_status

MODELS = [Payment, Transaction, Refund, Invoice, AuditRecord]


@pytest.fixture(scope="module")
async def emu() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(refund_delay_seconds=0.05) as running:
        yield running


async def test_worker_killed_mid_call_makes_one_gateway_refund(
    emu: RunningEmulator, tmp_path: Path, service_runner: list[ServiceProcess]
) -> None:
    env = isolated_env(
        CASHFREE_BASE_URL=emu.api_url,
        CASHFREE_TIMEOUT_SECONDS="5",
        CASHFREE_MAX_RETRIES="0",
        REFUND_POLL_AFTER_SECONDS="0.5",
        REFUND_POLL_INTERVAL_SECONDS="0.2",
        REFUND_LOCK_SECONDS="2",
        RETRY_DELAYS_MS="[300, 600, 1200, 2400]",
    )
    infra = isolated_settings(
        mongo_db=env["MONGO_DB"],
        broker_prefix=env["BROKER_PREFIX"],
        redis_prefix=env["REDIS_PREFIX"],
    )
    client = await connect_mongo(infra, MODELS)
    try:
        await emu.control.reset()
        payment = await paid_payment(emu, refund_settings(infra, emu), 10_000)
        # Cashfree makes the refund, then holds the answer well past the moment of the kill.
        await emu.control.hold_next_calls("lose", 20, operation="create_refund")
        first = start_service("refund-worker", env, tmp_path)
        service_runner.append(first)
        await asyncio.to_thread(first.wait_healthy)
        refund = await request_refund(payment.payment_id, 3_000)

        async def create_reached_cashfree() -> bool:
            return bool(await emu.control.calls(operation="create_refund"))

        await eventually(create_reached_cashfree)
        first.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.process.wait, 10)

        (tmp_path / "restarted").mkdir()
        second = start_service("refund-worker", env, tmp_path / "restarted")
        service_runner.append(second)
        await asyncio.to_thread(second.wait_healthy)

        async def succeeded() -> bool:
            return await refund_status(refund.refund_id) == RefundStatus.SUCCESS

        await eventually(succeeded, timeout=30)
        creates = await emu.control.calls(operation="create_refund")
        assert len([c for c in creates if not c.replayed]) == 1
        async with CashfreeGateway(refund_settings(infra, emu)) as gateway:
            assert len(await gateway.list_refunds(payment.order_id)) == 1

        async def settled() -> bool:
            stored = await PaymentService().get(payment.payment_id)
            return (stored.refunded_amount, stored.refund_reserved_amount) == (3_000, 0)

        await eventually(settled)
        assert second.stop() == 0
    finally:
        await client.close()
        await remove_traces(infra, consumers(infra))
