"""Pipeline latency at a fixed rate: from the emulator signing a PAYMENT_SUCCESS webhook
(`x-webhook-timestamp`) to our payment being SUCCESS (`updated_at`), through the real ingress,
RabbitMQ and processor, each its own process.

    uv run python bench/webhook_pipeline_bench.py [--rate 200] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC
from pathlib import Path

from cashfree_emulator.control import EmulatorControl
from paycore.gateway import CashfreeGateway, GatewayCustomer, GatewayOrderRequest, idempotency_key
from paycore.kit.mongo import connect_mongo
from paycore.kit.service import InfraSettings
from paycore.payments.models import Payment, PaymentStatus
from paycore.testing import TEST_ENCRYPTION_KEY, create_payment
from webhook_bench_support import SECRET, free_port, isolated_env, percentile, start, stop
from webhook_processor.settings import Settings as ProcessorSettings


async def prepare(count: int, api_url: str) -> list[tuple[Payment, str]]:
    settings = ProcessorSettings(
        cashfree_app_id="TEST_APP_ID",
        cashfree_secret_key=SECRET,
        cashfree_base_url=api_url,
        payment_encryption_key=TEST_ENCRYPTION_KEY,
    )
    orders = []
    async with CashfreeGateway(settings) as gateway:
        for _ in range(count):
            payment = await create_payment(status=PaymentStatus.PENDING)
            order = await gateway.create_order(
                GatewayOrderRequest(
                    order_id=payment.order_id,
                    amount_minor=payment.amount,
                    currency="INR",
                    customer=GatewayCustomer(customer_id="cus_bench", phone="9999999999"),
                ),
                idempotency_key=idempotency_key("order", payment.order_id),
            )
            assert order.payment_session_id is not None
            orders.append((payment, order.payment_session_id))
    return orders


async def run(rate: float, seconds: float, env: dict[str, str], emulator_url: str) -> None:
    settings = InfraSettings(mongo_db=env["MONGO_DB"])
    client = await connect_mongo(settings, [Payment])
    control = EmulatorControl(emulator_url)
    count = int(rate * seconds)
    orders = await prepare(count, emulator_url + "/pg")

    started = time.perf_counter()
    pays = []
    for n, (_, session) in enumerate(orders):
        # Open loop: start each payment on schedule, whatever the others are doing.
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pays.append(asyncio.create_task(control.pay(session, "SUCCESS")))
    await asyncio.gather(*pays)
    sent_for = time.perf_counter() - started

    ids = [payment.payment_id for payment, _ in orders]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = await Payment.get_pymongo_collection().count_documents(
            {"payment_id": {"$in": ids}, "status": "SUCCESS"}
        )
        if done == count:
            break
        await asyncio.sleep(0.5)
    signed_at = {}
    for attempt in await control.events(type="PAYMENT_SUCCESS_WEBHOOK"):
        order_id = attempt.body.split('"order_id":"', 1)[1].split('"', 1)[0]
        signed_at.setdefault(order_id, int(attempt.headers["x-webhook-timestamp"]) / 1000)
    latencies = []
    async for raw in Payment.get_pymongo_collection().find({"payment_id": {"$in": ids}}):
        payment = Payment.model_validate(raw)
        if payment.status == PaymentStatus.SUCCESS and payment.order_id in signed_at:
            updated = payment.updated_at.replace(tzinfo=payment.updated_at.tzinfo or UTC)
            latencies.append(updated.timestamp() - signed_at[payment.order_id])
    await control.aclose()
    if not os.environ.get("BENCH_KEEP_DB"):
        await client.drop_database(env["MONGO_DB"])
    await client.close()

    print(f"cores: {os.cpu_count()}, target rate {rate}/s for {seconds}s: {count} payments")
    print(f"payments started in {sent_for:.1f}s ({count / sent_for:.0f}/s achieved)")
    print(f"applied: {len(latencies)}/{count}")
    print(
        f"webhook signed -> payment SUCCESS: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="webhook-pipeline-bench-"))
    ingress_port, emulator_port = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    env = isolated_env("pipeline", CASHFREE_BASE_URL=emulator_url + "/pg", OUTBOX_GRACE_SECONDS="5")
    webhook_url = f"http://127.0.0.1:{ingress_port}/api/v1/webhooks/cashfree"
    processes = []
    try:
        processes.append(
            start(
                [
                    "-m",
                    "cashfree_emulator",
                    "--port",
                    str(emulator_port),
                    "--webhook-urls",
                    webhook_url,
                    "--secret-key",
                    SECRET,
                ],
                env,
                emulator_port,
                logs / "emulator.log",
            )
        )
        processes.append(start(["-m", "webhook_ingress"], env, ingress_port, logs / "ingress.log"))
        processes.append(
            start(["-m", "webhook_processor"], env, free_port(), logs / "processor.log")
        )
        asyncio.run(run(args.rate, args.seconds, env, emulator_url))
    finally:
        for process in reversed(processes):
            stop(process)
    print(f"logs: {logs}")


if __name__ == "__main__":
    main()
