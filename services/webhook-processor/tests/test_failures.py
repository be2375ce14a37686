"""Failures: a failing dependency is retried through the delay queues; a poison message goes
to the dead-letter queue and is replayed by the operator command once fixed."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from paycore.payments.models import PaymentStatus
from paycore.payments.repository import PaymentRepository
from paycore.testing import run_module
from paycore.webhooks import parsing
from paycore.webhooks.models import WebhookStatus
from webhook_pipeline import Pipeline, eventually, running_pipeline, wait_for_logs

payments = PaymentRepository()


def ops(pipeline: Pipeline, *args: str) -> str:
    return run_module("webhook_processor.ops", *args, env=pipeline.env())


def payment_body(order_id: str, amount: str, cf_payment_id: str = "9100001") -> bytes:
    return (
        f'{{"data":{{"order":{{"order_id":"{order_id}","order_amount":{amount},'
        f'"order_currency":"INR"}},"payment":{{"cf_payment_id":"{cf_payment_id}",'
        f'"payment_status":"SUCCESS","payment_amount":{amount},"payment_currency":"INR",'
        '"payment_method":{"upi":{"upi_id":"x@ybl"}},"payment_group":"upi"}},'
        '"event_time":"2025-01-15T11:16:10+05:30","type":"PAYMENT_SUCCESS_WEBHOOK"}'
    ).encode()


@pytest.fixture
async def confirming_pipeline() -> AsyncIterator[Pipeline]:
    async with running_pipeline(processor_overrides={"webhook_confirm_with_gateway": True}) as p:
        yield p


async def test_a_failing_dependency_is_retried_through_the_delay_queues_then_succeeds(
    confirming_pipeline: Pipeline,
) -> None:
    pipeline = confirming_pipeline
    notices = await pipeline.tap("webhook.exchange", "webhook.cashfree.*")
    payment, session = await pipeline.new_order()
    # Confirming the success with Cashfree fails twice, then works.
    await pipeline.emulator.control.fail_next_calls(500, operation="get_payment", count=2)

    await pipeline.emulator.control.pay(session, "SUCCESS")

    async def applied() -> bool:
        stored = await payments.get(payment.payment_id)
        return stored is not None and stored.status == PaymentStatus.SUCCESS

    await eventually(applied)
    # The log is marked done after the payment moved (order_id is set with it).
    [log] = await wait_for_logs(pipeline, 1, order_id=payment.order_id)
    assert log.status == WebhookStatus.SUCCESS
    assert log.attempts == 3

    async def two_retries_announced() -> bool:
        retries = await notices.of_type("webhook.cashfree.retry", log_id=log.log_id)
        return [event.data["attempt"] for event in retries] == [1, 2]

    await eventually(two_retries_announced)
    stored = await payments.get(payment.payment_id)
    assert stored is not None
    [record] = [r for r in stored.history if r.to_status == "SUCCESS"]
    assert record.evidence.detail["confirmed"] is True


async def test_a_poison_message_is_dead_lettered_then_replayed_after_the_fix(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    notices = await pipeline.tap("webhook.exchange", "webhook.cashfree.*")
    alerts = await pipeline.tap("analytics.exchange", "analytics.webhook.failure")
    payment, _ = await pipeline.new_order(amount=10_000)
    # A format version this code cannot read yet: a poison message, not worth retrying.
    body = payment_body(payment.order_id, "100.00")
    answer = await pipeline.post_signed(body, **{"x-webhook-version": "2099-01-01"})
    assert answer.status_code == 200
    log_id = answer.json()["logId"]

    async def dead_lettered() -> bool:
        [log] = await pipeline.logs(log_id=log_id)
        return log.dead_lettered

    await eventually(dead_lettered)
    [log] = await pipeline.logs(log_id=log_id)
    assert log.status == WebhookStatus.FAILED
    assert log.attempts == 1  # straight to the dead-letter queue
    assert "UnsupportedWebhookVersion" in (log.last_error or "")
    listing = ops(pipeline, "dead-letters")
    assert "1 message(s)" in listing
    assert log_id in listing
    assert "UnsupportedWebhookVersion" in listing

    async def announced() -> bool:
        dead = await notices.of_type("webhook.cashfree.deadletter", log_id=log_id)
        failures = await alerts.of_type("analytics.webhook.failure", log_id=log_id)
        return len(dead) == 1 and len(failures) == 1

    await eventually(announced)

    monkeypatch.setattr(parsing, "SUPPORTED_VERSIONS", {*parsing.SUPPORTED_VERSIONS, "2099-01-01"})
    replayed = ops(pipeline, "replay", "--id", log_id)

    assert f"replayed {log_id}" in replayed

    async def applied() -> bool:
        # The payment moves before its log is marked done: wait for both.
        stored = await payments.get(payment.payment_id)
        [replayed_log] = await pipeline.logs(log_id=log_id)
        return (
            stored is not None
            and stored.status == PaymentStatus.SUCCESS
            and replayed_log.status == WebhookStatus.SUCCESS
        )

    await eventually(applied)
    [log] = await wait_for_logs(pipeline, 1, log_id=log_id, status=WebhookStatus.SUCCESS.value)
    assert not log.dead_lettered
    await asyncio.sleep(0.2)
    assert "0 message(s)" in ops(pipeline, "dead-letters")


async def test_a_gateway_timeout_is_retried_never_dead_lettered_on_first_attempt() -> None:
    # Issue 11: a timeout is an unknown outcome, retryable wherever it happens.
    # A second to answer: the one held call (2 s) times out, an ordinary one never does.
    overrides = {"webhook_confirm_with_gateway": True, "cashfree_timeout_seconds": 1.0}
    async with running_pipeline(processor_overrides=overrides) as pipeline:
        payment, session = await pipeline.new_order()
        # Confirming the success with Cashfree times out once, then answers.
        await pipeline.emulator.control.hold_next_calls("hang", 2.0, operation="get_payment")

        await pipeline.emulator.control.pay(session, "SUCCESS")

        async def applied() -> bool:
            stored = await payments.get(payment.payment_id)
            logs = await pipeline.logs(order_id=payment.order_id)
            return (
                stored is not None
                and stored.status == PaymentStatus.SUCCESS
                and [log.status for log in logs] == [WebhookStatus.SUCCESS]
            )

        await eventually(applied, timeout=20)
        [log] = await pipeline.logs(order_id=payment.order_id)
        assert log.attempts == 2
        assert not log.dead_lettered
