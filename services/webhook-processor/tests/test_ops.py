"""The operator's reprocess command, with and without a dry run, in its own process."""

from collections.abc import AsyncIterator

import pytest
from paycore.payments.models import PaymentStatus
from paycore.payments.repository import PaymentRepository
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
