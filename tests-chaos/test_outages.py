"""Server outages under traffic: the database, the broker and Redis stopped and started again
while payments are paid. Each stops a local server (infra/local/outage.sh) for every process on
the machine, and always starts it again."""

import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable

import httpx
from chaos_support import Report, Stack, buyers, server_down
from paycore.testing import signed_webhook_headers

INGRESS_PATH = "/api/v1/webhooks/cashfree"


def signed_webhook(secret: str) -> tuple[bytes, dict[str, str]]:
    """A valid PAYMENT_SUCCESS webhook for an order nobody has (only its answer matters)."""
    body = json.dumps(
        {
            "type": "PAYMENT_SUCCESS_WEBHOOK",
            "event_time": "2025-01-15T11:16:10+05:30",
            "data": {
                "order": {"order_id": f"ord_{uuid.uuid4().hex[:16]}", "order_amount": 10.0},
                "payment": {"cf_payment_id": "1", "payment_status": "SUCCESS"},
            },
        }
    ).encode()
    return body, signed_webhook_headers(body, secret.encode())


async def timed(call: Awaitable[httpx.Response]) -> tuple[int, float]:
    started = time.perf_counter()
    answer = await call
    return answer.status_code, time.perf_counter() - started


async def test_database_outage(stack: Stack, report: Report) -> None:
    """The ingress and the API answer 503 within 1 s while the database is down; the payments
    paid meanwhile are applied once it is back (Cashfree redelivers what got a 503)."""
    async with stack.api() as api:
        payments = [await stack.create_payment(api) for _ in range(6)]
        secret = stack.env["CASHFREE_WEBHOOK_SECRET"].split(",")[0]
        ingress = httpx.AsyncClient(base_url=stack.url("webhook-ingress"), timeout=10)
        answers: list[tuple[int, float]] = []
        api_answers: list[tuple[int, float]] = []
        try:
            async with server_down("mongodb"):
                await stack.pay_all(payments)
                for _ in range(8):
                    body, headers = signed_webhook(secret)
                    answers.append(
                        await timed(ingress.post(INGRESS_PATH, content=body, headers=headers))
                    )
                    api_answers.append(
                        await timed(api.get(f"/payments/{payments[0]['payment_id']}"))
                    )
                await asyncio.sleep(2)
        finally:
            await ingress.aclose()
        await stack.all_succeeded([p["payment_id"] for p in payments])
        counts = await stack.payment_counts([p["payment_id"] for p in payments])
    latencies = [seconds for _, seconds in answers]
    api_latencies = [seconds for _, seconds in api_answers]
    report.counts.update(
        counts,
        ingress_503=sum(status == 503 for status, _ in answers),
        ingress_requests=len(answers),
        ingress_503_max_s=round(max(latencies), 3),
        ingress_503_median_s=round(statistics.median(latencies), 3),
        api_503=sum(status == 503 for status, _ in api_answers),
        api_503_max_s=round(max(api_latencies), 3),
    )
    assert [status for status, _ in answers] == [503] * len(answers)
    assert [status for status, _ in api_answers] == [503] * len(api_answers)
    assert max(latencies) < 1.0, latencies
    assert max(api_latencies) < 1.0, api_latencies
    assert counts["lost"] == 0
    assert counts["doubled"] == 0


async def test_broker_outage(stack: Stack, report: Report) -> None:
    """RabbitMQ stopped mid-burst: webhooks are stored and answered 200, events wait in the
    outboxes, and everything is applied and emailed once the broker is back."""
    emails = buyers(16)
    async with stack.api() as api:
        payments = [await stack.create_payment(api, email=e) for e in emails]
        ids = [p["payment_id"] for p in payments]
        await stack.pay_all(payments[:8])
        async with server_down("rabbitmq"):
            await stack.pay_all(payments[8:])
            await asyncio.sleep(2)
        await stack.all_succeeded(ids)
        counts = await stack.payment_counts(ids)
    counts |= await stack.email_counts(emails)
    report.counts.update(counts)
    assert counts["lost"] == counts["doubled"] == counts["emails_lost"] == 0
    assert counts["emails_doubled"] == 0


async def test_redis_flush_and_restart(stack: Stack, report: Report) -> None:
    """Every key of ours flushed, then Redis stopped and started while payments are paid and
    refunds requested: idempotency and locks fall back to the database's unique keys and
    guarded updates."""
    emails = buyers(10)
    async with stack.api() as api:
        payments = [await stack.create_payment(api, email=e) for e in emails]
        ids = [p["payment_id"] for p in payments]
        orders = [p["order_id"] for p in payments]
        await stack.pay_all(payments[:5])
        await stack.flush_redis()
        async with server_down("redis"):
            await stack.pay_all(payments[5:])
            await asyncio.sleep(1)
        await stack.all_succeeded(ids)
        requested = [await stack.request_refund(api, pid, 2_500) for pid in ids[:5]]
        await stack.flush_redis()
        # The same requests again with their keys: answered from the database, not repeated.
        again = [await stack.request_refund(api, pid, 2_500) for pid in ids[:5]]
        assert [r["refund_id"] for r in again] == [r["refund_id"] for r in requested]
        await stack.all_refunds_succeeded(api, [r["refund_id"] for r in requested])
        counts = await stack.payment_counts(ids)
        made = await stack.gateway_refunds(orders[:5])
        books = await stack.payments(ids[:5])
    counts |= await stack.email_counts(emails)
    counts |= {
        "refunds": len(requested),
        "refunds_lost": sum(1 for n in made.values() if n == 0),
        "gateway_doubled": sum(max(0, n - 1) for n in made.values()),
        "books_doubled": sum(1 for doc in books.values() if doc["refunded_amount"] != 2_500),
    }
    report.counts.update(counts)
    assert counts["lost"] == counts["doubled"] == counts["emails_lost"] == 0
    assert counts["refunds_lost"] == counts["gateway_doubled"] == counts["books_doubled"] == 0


async def test_smtp_outage(stack: Stack, report: Report) -> None:
    """The mail server down while payments succeed: each email waits in the delay queues and
    is sent once the server is back."""
    emails = buyers(10)
    async with stack.api() as api:
        payments = [await stack.create_payment(api, email=e) for e in emails]
        await stack.stop_smtp()
        try:
            await stack.pay_all(payments)
            await stack.all_succeeded([p["payment_id"] for p in payments])
            await asyncio.sleep(2)
        finally:
            await stack.restart("smtp-sink")
    counts = await stack.email_counts(emails)
    report.counts.update(counts)
    assert counts["emails_lost"] == counts["emails_doubled"] == 0
