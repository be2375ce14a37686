"""The processor killed (SIGKILL) in the middle of a message: redelivered, one effect."""

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from paycore.payments.models import PaymentStatus
from paycore.payments.repository import PaymentRepository
from paycore.webhooks.models import WebhookStatus
from webhook_pipeline import Pipeline, eventually, running_pipeline

payments = PaymentRepository()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProcessorProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "webhook_processor"],
            env=env | {"PORT": str(self.port)},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    async def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.log.read_text()[-3000:]
                try:
                    ready = await client.get(f"http://127.0.0.1:{self.port}/health/ready")
                    if ready.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"processor not ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
async def ingress_only() -> AsyncIterator[Pipeline]:
    async with running_pipeline(processor=False) as pipeline:
        yield pipeline


@pytest.fixture
def processes() -> Iterator[list[ProcessorProcess]]:
    started: list[ProcessorProcess] = []
    yield started
    for process in started:
        process.kill()


async def test_a_processor_killed_mid_message_leaves_one_effect(
    ingress_only: Pipeline, processes: list[ProcessorProcess], tmp_path: Path
) -> None:
    pipeline = ingress_only
    emails = await pipeline.tap("email.exchange", "email.payment.success")
    hold = tmp_path / "applied-not-acked"
    first = ProcessorProcess(pipeline.env(WEBHOOK_TEST_HOLD_FILE=str(hold)), tmp_path / "1.log")
    processes.append(first)
    await first.wait_healthy()
    payment, session = await pipeline.new_order()

    await pipeline.emulator.control.pay(session, "SUCCESS")

    async def held() -> bool:
        return hold.exists()

    await eventually(held, timeout=20)
    # Applied, not yet marked done nor acknowledged: the worst moment to die. Processing writes
    # the log once, at the end, so it still reads as received.
    [log] = await pipeline.logs()
    assert (log.status, log.attempts) == (WebhookStatus.RECEIVED, 0)
    applied = await payments.get(payment.payment_id)
    assert applied is not None
    assert applied.status == PaymentStatus.SUCCESS
    first.kill()

    second = ProcessorProcess(pipeline.env(), tmp_path / "2.log")
    processes.append(second)
    await second.wait_healthy()

    async def finished() -> bool:
        [log] = await pipeline.logs()
        return log.status == WebhookStatus.SUCCESS

    await eventually(finished, timeout=20)
    [log] = await pipeline.logs()
    assert log.attempts == 1  # the killed attempt never finished
    assert log.outcome == "duplicate"  # the redelivery found the payment already SUCCESS
    stored = await payments.get(payment.payment_id)
    assert stored is not None
    assert [r.to_status for r in stored.history if not r.ignored].count("SUCCESS") == 1
    # Published by the killed processor's relay, or else swept by the second once the killed
    # one's sweep lock (10 s) has expired; then no second copy follows.
    await emails.one_arrives("email.payment.success", timeout=20, payment_id=payment.payment_id)
    await asyncio.sleep(1.5)  # past the outbox grace: a doubled event would be swept by now
    assert len(await emails.of_type("email.payment.success", payment_id=payment.payment_id)) == 1
