"""Cashfree misbehaving (the emulator's fault book): errors, rate limits, slow answers, calls
that time out before acting and answers lost after acting, on orders and refunds; webhooks
duplicated, delayed, out of order and dropped. Every payment and refund ends once."""

import asyncio
from typing import Any

import httpx
from chaos_support import Report, Stack, buyers

# The services give Cashfree 3 s (CASHFREE_TIMEOUT_SECONDS in the stack): these outlast it.
PAST_THE_TIMEOUT = 4.0


async def arm_api_faults(stack: Stack, operation: str) -> list[str]:
    """One of each API fault, taken by the next calls of `operation` in this order."""
    async with stack.emulator() as emu:
        await emu.fail_next_calls(500, operation=operation)
        await emu.fail_next_calls(429, operation=operation, retry_after_seconds=1)
        await emu.hold_next_calls("slow", 1.0, operation=operation)
        await emu.hold_next_calls("hang", PAST_THE_TIMEOUT, operation=operation)
        await emu.hold_next_calls("lose", PAST_THE_TIMEOUT, operation=operation)
        await emu.fail_next_calls(502, operation=operation)
    return ["500", "429", "slow", "timeout before acting", "answer lost after acting", "502"]


async def armed_left(stack: Stack) -> int:
    async with stack.emulator() as emu:
        return sum(fault.remaining for fault in await emu.faults())


async def test_gateway_faults_on_orders_and_refunds(stack: Stack, report: Report) -> None:
    emails = buyers(6)
    async with stack.api() as api:
        faults = await arm_api_faults(stack, "create_order")
        payments = [await stack.create_payment(api, email=e) for e in emails]
        order_faults_left = await armed_left(stack)
        ids = [p["payment_id"] for p in payments]
        await stack.pay_all(payments)
        await stack.all_succeeded(ids)

        await arm_api_faults(stack, "create_refund")
        requested = list(
            await asyncio.gather(*(stack.request_refund(api, pid, 3_000) for pid in ids))
        )
        await stack.all_refunds_succeeded(api, [r["refund_id"] for r in requested], timeout=120)
        counts = await stack.payment_counts(ids)
        orders = await orders_at_gateway(stack, [p["order_id"] for p in payments])
        made = await stack.gateway_refunds([p["order_id"] for p in payments])
        books = await stack.payments(ids)
    counts |= {
        "faults_each": len(faults),
        "faults_left": order_faults_left + await armed_left(stack),
        "orders_missing": sum(1 for found in orders.values() if not found),
        "refunds": len(requested),
        "refunds_lost": sum(1 for n in made.values() if n == 0),
        "gateway_doubled": sum(max(0, n - 1) for n in made.values()),
        "books_doubled": sum(1 for doc in books.values() if doc["refunded_amount"] != 3_000),
    }
    report.counts.update(counts)
    assert counts["faults_left"] == 0  # every fault was met
    assert counts["lost"] == counts["doubled"] == counts["orders_missing"] == 0
    assert counts["refunds_lost"] == counts["gateway_doubled"] == counts["books_doubled"] == 0


async def orders_at_gateway(stack: Stack, order_ids: list[str]) -> dict[str, bool]:
    headers = {
        "x-client-id": stack.env["CASHFREE_APP_ID"],
        "x-client-secret": stack.env["CASHFREE_SECRET_KEY"],
        "x-api-version": "2025-01-01",
    }
    async with httpx.AsyncClient(base_url=stack.url("emulator") + "/pg", timeout=10) as client:
        return {
            order: (await client.get(f"/orders/{order}", headers=headers)).status_code == 200
            for order in order_ids
        }


async def test_webhook_faults(stack: Stack, report: Report) -> None:
    """Duplicated (3 copies), delayed, out of order (a failure overtaken by the success of the
    same order) and dropped webhooks: each payment applied once; a dropped one is applied when
    the customer's return page verifies the payment with Cashfree (POST /payments/verify; the
    reconciler's janitor would ask a minute later, tested with the reconciler)."""
    emails = buyers(8)
    async with stack.api() as api:
        payments = [await stack.create_payment(api, email=e) for e in emails]
        ids = [p["payment_id"] for p in payments]
        async with stack.emulator() as emu:
            plan: list[tuple[str, dict[str, Any]]] = [
                ("duplicate", {"copies": 3}),
                ("duplicate", {"copies": 2}),
                ("delay", {"delay_ms": 1500}),
                ("delay", {"delay_ms": 3000}),
                ("drop", {}),
                ("drop", {}),
            ]
            for payment, (kind, options) in zip(payments, plan, strict=False):
                await emu.webhook_fault(kind, **options)  # type: ignore[arg-type]
                await emu.pay(payment["payment_session_id"], "SUCCESS")
            for payment in payments[len(plan) :]:
                # The failed attempt's webhook is held until the success's has been sent.
                await emu.webhook_fault("out_of_order")
                await emu.pay(payment["payment_session_id"], "FAILED")
                await emu.pay(payment["payment_session_id"], "SUCCESS")
            dropped = await emu.wait_for_events(2, outcome="dropped", timeout=30)
        for payment in payments:
            if any(payment["order_id"] in attempt.body for attempt in dropped):
                answer = await api.post(
                    "/payments/verify", json={"payment_id": payment["payment_id"]}
                )
                assert answer.status_code == 200, answer.text
        await stack.all_succeeded(ids, timeout=120)
        counts = await stack.payment_counts(ids)
    counts |= await stack.email_counts(emails)
    counts["dropped_verified"] = len(dropped)
    counts["webhook_faults"] = len(payments)  # one per payment
    report.counts.update(counts)
    assert counts["lost"] == counts["doubled"] == counts["emails_lost"] == 0
    assert counts["emails_doubled"] == 0
