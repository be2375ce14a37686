"""SIGKILL of each worker in the middle of a burst, then a restart: nothing lost, nothing applied
twice (at the gateway or in our books); emails doubled only within the documented window."""

import asyncio
from collections import Counter
from typing import Any

import httpx
from chaos_support import Report, Stack, buyers, eventually

BURST = 12


async def new_payments(stack: Stack, api: httpx.AsyncClient, emails: list[str]) -> list[Any]:
    return list(await asyncio.gather(*(stack.create_payment(api, email=e) for e in emails)))


async def kill_when(stack: Stack, name: str, reached: Any) -> None:
    """SIGKILLs `name` once `reached()` says the burst is under way, then starts it again."""
    await eventually(reached, timeout=60, interval=0.05)
    await stack.sigkill(name)
    await stack.restart(name)


async def kill_mid_payment_burst(
    stack: Stack, name: str, emails: list[str], *, with_emails: bool
) -> dict[str, int]:
    """Pays a burst of payments, SIGKILLs `name` once three are applied and restarts it; returns
    the payment counts (and the email counts when `with_emails`)."""
    async with stack.api() as api:
        payments = await new_payments(stack, api, emails)
        ids = [p["payment_id"] for p in payments]

        async def some_applied() -> bool:
            found = await stack.payments(ids)
            return sum(doc["status"] == "SUCCESS" for doc in found.values()) >= 3

        paying = asyncio.create_task(stack.pay_all(payments))
        await kill_when(stack, name, some_applied)
        await paying
        await stack.all_succeeded(ids)
        counts = await stack.payment_counts(ids)
    if with_emails:
        counts |= await stack.email_counts(emails)
    return counts


async def test_sigkill_webhook_processor(stack: Stack, report: Report) -> None:
    counts = await kill_mid_payment_burst(
        stack, "webhook-processor", buyers(BURST), with_emails=True
    )
    report.counts.update(counts)
    assert counts["lost"] == counts["doubled"] == counts["emails_lost"] == 0


async def test_sigkill_refund_worker(stack: Stack, report: Report) -> None:
    emails = buyers(10)
    async with stack.api() as api:
        payments = await new_payments(stack, api, emails)
        ids = [p["payment_id"] for p in payments]
        await stack.pay_all(payments)
        await stack.all_succeeded(ids)
        orders = [p["order_id"] for p in payments]

        async def some_refunded_at_gateway() -> bool:
            made = await stack.gateway_refunds(orders)
            return sum(made.values()) >= 2

        refunds = asyncio.gather(*(stack.request_refund(api, pid, 4_000) for pid in ids))
        await kill_when(stack, "refund-worker", some_refunded_at_gateway)
        requested = await refunds

        async def all_final() -> bool:
            states = [
                (await api.get(f"/refunds/{refund['refund_id']}")).json()["data"]["status"]
                for refund in requested
            ]
            return all(state == "SUCCESS" for state in states)

        await eventually(all_final, timeout=90, interval=1)
        made = await stack.gateway_refunds(orders)
        books = await stack.payments(ids)
    report.counts.update(
        refunds=len(requested),
        refunds_lost=sum(1 for order in orders if made[order] == 0),
        gateway_doubled=sum(max(0, n - 1) for n in made.values()),
        books_doubled=sum(1 for doc in books.values() if doc["refunded_amount"] != 4_000),
    )
    assert report.counts["refunds_lost"] == 0
    assert report.counts["gateway_doubled"] == 0
    assert report.counts["books_doubled"] == 0


async def test_sigkill_email_worker(stack: Stack, report: Report) -> None:
    emails = buyers(BURST)
    async with stack.api() as api:
        payments = await new_payments(stack, api, emails)
        wanted = set(emails)

        async def some_sent() -> bool:
            got = {to for m in await stack.emails() for to in m["to"]}
            return len(got & wanted) >= 3

        paying = asyncio.create_task(stack.pay_all(payments))
        await eventually(some_sent, timeout=60, interval=0.05)
        await stack.sigkill("email-worker")
        # The window (services/email-worker/README.md): emails the SMTP server accepted whose
        # record did not say SENT when the worker died. Nothing writes either while it is dead.
        accepted = {str(m["message_id"]) for m in await stack.emails() if set(m["to"]) & wanted}
        async with stack.mongo() as client:
            logs = client[stack.db_name]["email_logs"]
            recorded = {doc["message_id"] async for doc in logs.find({"status": "SENT"})}
        in_window = accepted - recorded
        await stack.restart("email-worker")
        await paying
        await stack.all_succeeded([p["payment_id"] for p in payments])
    counts = await stack.email_counts(emails, timeout=90)
    report.counts.update(counts, in_window=len(in_window))
    assert counts["emails_lost"] == 0
    # Only an email in that window may go out twice.
    copies = Counter(str(m["message_id"]) for m in await stack.emails() if set(m["to"]) & wanted)
    assert {message_id for message_id, n in copies.items() if n > 1} <= in_window


async def test_sigkill_webhook_ingress(stack: Stack, report: Report) -> None:
    counts = await kill_mid_payment_burst(
        stack, "webhook-ingress", buyers(BURST), with_emails=False
    )
    report.counts.update(counts)
    assert counts["lost"] == counts["doubled"] == 0


async def test_sigkill_reconciler(stack: Stack, report: Report) -> None:
    # The reconciler relays the payments' outboxes too: a kill mid-relay publishes some events
    # twice, which every consumer must drop (the emails are counted by Message-ID).
    counts = await kill_mid_payment_burst(stack, "reconciler", buyers(BURST), with_emails=True)
    report.counts.update(counts)
    assert counts["lost"] == counts["doubled"] == counts["emails_lost"] == 0
    assert counts["emails_doubled"] == 0
