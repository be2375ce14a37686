"""The operator's reprocess command, with and without a dry run, in its own process."""

from collections.abc import AsyncIterator

import pytest
from paycore.alerts import AdminAlert
from paycore.gateway.schemas import GatewayAttemptStatus, GatewayPayment
from paycore.kit.state import Evidence
from paycore.payments.models import PaymentStatus
from paycore.payments.repository import PaymentRepository
from paycore.payments.service import PaymentService
from paycore.refunds.repository import RefundRepository
from paycore.webhooks.models import WebhookStatus
from test_failures import ops
from webhook_pipeline import Pipeline, eventually, running_pipeline

payments = PaymentRepository()


@pytest.fixture
async def ingress_only() -> AsyncIterator[Pipeline]:
    async with running_pipeline(processor=False) as pipeline:
        yield pipeline


async def test_reprocess_dry_run_prints_the_change_and_makes_none(ingress_only: Pipeline) -> None:
    pipeline = ingress_only
    payment, session = await pipeline.new_order()
    await pipeline.emulator.control.pay(session, "SUCCESS")

    async def stored() -> bool:
        return len(await pipeline.logs()) == 1

    await eventually(stored)
    [log] = await pipeline.logs()

    plan = ops(pipeline, "reprocess", log.log_id, "--dry-run")

    assert f"payment {payment.payment_id}: PENDING -> SUCCESS" in plan
    unchanged = await payments.get(payment.payment_id)
    assert unchanged is not None
    assert unchanged.status == PaymentStatus.PENDING
    assert [log.status for log in await pipeline.logs()] == [WebhookStatus.RECEIVED]

    done = ops(pipeline, "reprocess", log.log_id)

    assert "SUCCESS applied" in done
    applied = await payments.get(payment.payment_id)
    assert applied is not None
    assert applied.status == PaymentStatus.SUCCESS
    assert "is already SUCCESS" in ops(pipeline, "reprocess", log.log_id, "--dry-run")

    # Without the dry run a final log is reopened and processed again: nothing changes twice.
    again = ops(pipeline, "reprocess", log.log_id)

    assert "SUCCESS" in again
    assert "applied" not in again
    [reprocessed] = await pipeline.logs()
    assert reprocessed.status == WebhookStatus.SUCCESS
    assert reprocessed.reopened_at is not None


async def test_a_second_capture_is_refunded_with_one_command(pipeline: Pipeline) -> None:
    payment, session = await pipeline.new_order(amount=10_000)
    await pipeline.emulator.control.pay(session, "SUCCESS")

    async def paid() -> bool:
        stored = await PaymentRepository().get(payment.payment_id)
        return stored is not None and stored.status == PaymentStatus.SUCCESS

    await eventually(paid)
    # A second successful attempt on the same order: money received twice.
    second = GatewayPayment(
        order_id=payment.order_id,
        gateway_payment_id="9999001",
        status=GatewayAttemptStatus.SUCCEEDED,
        amount_minor=10_000,
        currency="INR",
    )
    outcome = await PaymentService().apply_attempt(second, Evidence(source="verify"))
    assert outcome.reason == "second_capture"
    [alert] = await AdminAlert.find(AdminAlert.kind == "second_capture").to_list()
    command = alert.detail["refund_command"].split()
    assert command[:4] == ["python", "-m", "webhook_processor.ops", "refund-extra-capture"]

    printed = ops(pipeline, *command[3:])
    again = ops(pipeline, *command[3:])  # idempotent: the same refund

    assert printed.split()[:3] == ["rfd_extra_9999001", "INITIATED", "10000"]
    assert again.split()[0] == "rfd_extra_9999001"
    refund = await RefundRepository().get("rfd_extra_9999001")
    assert refund is not None
    assert not refund.counts_against_payment
    stored = await PaymentRepository().get(payment.payment_id)
    assert stored is not None
    # The payment's own money stays refundable in full.
    assert (stored.refundable_amount, stored.refund_reserved_amount) == (10_000, 0)
