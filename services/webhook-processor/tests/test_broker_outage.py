"""RabbitMQ stopped while webhooks arrive: answered 200 and stored, then published and applied
once the broker is back. Stops the local broker (infra/local/broker.sh), so it always restarts
it, whatever happens."""

import asyncio
import subprocess
from pathlib import Path

from paycore.payments.models import PaymentStatus
from paycore.payments.repository import PaymentRepository
from paycore.webhooks.models import WebhookStatus
from webhook_pipeline import Pipeline, eventually, wait_for_logs

BROKER = Path(__file__).resolve().parents[3] / "infra/local/broker.sh"
payments = PaymentRepository()


async def broker(action: str) -> None:
    process = await asyncio.create_subprocess_exec(str(BROKER), action)
    assert await process.wait() == 0, f"broker.sh {action} failed"


async def test_webhooks_arriving_while_the_broker_is_down_are_applied_once_it_is_back(
    pipeline: Pipeline,
) -> None:
    orders = [await pipeline.new_order() for _ in range(3)]
    await broker("stop")
    try:
        for _, session in orders:
            await pipeline.emulator.control.pay(session, "SUCCESS")
        attempts = await pipeline.emulator.control.wait_for_events(3, timeout=30)
        assert [attempt.status_code for attempt in attempts] == [200, 200, 200]
        logs = await pipeline.logs()
        assert len(logs) == 3
        assert all(log.status == WebhookStatus.RECEIVED for log in logs)
        assert all(len(log.outbox) == 1 for log in logs)  # stored, not yet published
    finally:
        await asyncio.to_thread(subprocess.run, [str(BROKER), "start"], check=True)

    async def all_applied() -> bool:
        for payment, _ in orders:
            stored = await payments.get(payment.payment_id)
            if stored is None or stored.status != PaymentStatus.SUCCESS:
                return False
        return True

    await eventually(all_applied, timeout=60, interval=0.5)
    # Each log is marked done, and its events removed, after its payment moved.
    logs = await wait_for_logs(pipeline, 3)
    assert all(log.status == WebhookStatus.SUCCESS for log in logs)
    assert all(log.attempts == 1 for log in logs)

    async def published() -> bool:
        return all(log.outbox == [] for log in await pipeline.logs())

    await eventually(published)
