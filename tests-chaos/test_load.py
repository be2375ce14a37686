"""Back-pressure: a webhook flood while the processor absorbs nothing (frozen with SIGSTOP, as an
overloaded processor looks to the broker). The ingress keeps answering fast, its queue holds the
backlog, the backlog alert's condition holds (the series PaycoreQueueBacklog selects, reported by
the reconciler while the processor cannot, crosses the overload threshold) and the admins get
the queue-overload alert, nothing is dropped, and the backlog drains once the processor runs
again."""

import asyncio
import os
import signal
import statistics
import time

import httpx
import yaml
from chaos_support import QUEUE_OVERLOAD_MESSAGES, Report, Stack, buyers
from observability import ALERTS_FILE, Selector, parse_scrape, selectors
from test_outages import INGRESS_PATH, signed_webhook

FLOOD = 40
# A probe webhook this often during the flood, timed.
PROBE_EVERY_SECONDS = 0.05


async def queue_depth(stack: Stack, queue: str) -> int:
    """Messages in `queue` (ready and unacked), from the broker's management API."""
    async with httpx.AsyncClient(
        base_url="http://127.0.0.1:15672/api/queues/%2F/", auth=("guest", "guest"), timeout=10
    ) as management:
        answer = await management.get(queue)
    if answer.status_code != 200:
        return 0
    return int(answer.json().get("messages", 0))


def backlog_alert_selector() -> Selector:
    """The series PaycoreQueueBacklog compares with its threshold."""
    groups = yaml.safe_load(ALERTS_FILE.read_text())["groups"]
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == "PaycoreQueueBacklog")
    [selector] = selectors(rule["expr"], "PaycoreQueueBacklog")
    return selector


async def backlog_metric(stack: Stack, queue: str) -> float:
    """What the backlog alert sees for `queue` in the reconciler's scrape."""
    selector = backlog_alert_selector()
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{stack.url('reconciler')}/metrics")).text
    values = [
        value
        for name, labels, value in parse_scrape({"reconciler": text}).all()
        if name == selector.name
        and labels.get("queue") == queue
        and all(m.matches(labels) for m in selector.matchers)
    ]
    return max(values, default=0.0)


async def overload_alerts(stack: Stack, queue: str) -> int:
    async with stack.mongo() as client:
        alerts = client[stack.db_name]["admin_alerts"]
        return await alerts.count_documents({"kind": "queue_overload", "detail.queue": queue})


async def test_webhook_flood_backlog_drains(stack: Stack, report: Report) -> None:
    emails = buyers(FLOOD)
    queue = stack.env["BROKER_PREFIX"] + "webhook-processor.webhooks"
    secret = stack.env["CASHFREE_WEBHOOK_SECRET"].split(",")[0]
    async with stack.api() as api:
        limit = asyncio.Semaphore(8)

        async def create(email: str) -> dict[str, str]:
            async with limit:
                return await stack.create_payment(api, email=email)

        payments = list(await asyncio.gather(*(create(e) for e in emails)))
        ids = [p["payment_id"] for p in payments]
        processor = stack.processes["webhook-processor"].process
        os.kill(processor.pid, signal.SIGSTOP)
        latencies: list[float] = []
        statuses: list[int] = []
        try:
            paying = asyncio.create_task(stack.pay_all(payments))
            async with httpx.AsyncClient(base_url=stack.url("webhook-ingress"), timeout=10) as ing:
                while not paying.done():
                    body, headers = signed_webhook(secret)
                    started = time.perf_counter()
                    answer = await ing.post(INGRESS_PATH, content=body, headers=headers)
                    latencies.append(time.perf_counter() - started)
                    statuses.append(answer.status_code)
                    await asyncio.sleep(PROBE_EVERY_SECONDS)
            await paying
            backlog = 0
            deadline = time.monotonic() + 30
            while backlog < FLOOD and time.monotonic() < deadline:
                backlog = await queue_depth(stack, queue)
                await asyncio.sleep(0.5)
            # The alert's condition, as Prometheus would evaluate it, and the admin alert.
            label = "webhook-processor.webhooks"
            seen, alerted = 0.0, 0
            deadline = time.monotonic() + 30
            while not (seen >= QUEUE_OVERLOAD_MESSAGES and alerted) and (
                time.monotonic() < deadline
            ):
                seen = await backlog_metric(stack, label)
                alerted = await overload_alerts(stack, label)
                await asyncio.sleep(0.5)
        finally:
            os.kill(processor.pid, signal.SIGCONT)
        resumed = time.monotonic()
        await stack.all_succeeded(ids, timeout=120)
        drained_in = time.monotonic() - resumed
        counts = await stack.payment_counts(ids)
    async with stack.emulator() as emu:
        refused = [
            attempt
            for attempt in await emu.events()
            if attempt.status_code != 200 and any(p["order_id"] in attempt.body for p in payments)
        ]
    report.counts.update(
        counts,
        backlog_max=backlog,
        backlog_metric=seen,
        overload_alerts=alerted,
        ingress_probes=len(latencies),
        ingress_p50_s=round(statistics.median(latencies), 3),
        ingress_max_s=round(max(latencies), 3),
        deliveries_refused=len(refused),
        drained_in_s=round(drained_in, 1),
    )
    assert backlog >= FLOOD  # the queue held the whole flood (plus the probes)
    assert seen >= QUEUE_OVERLOAD_MESSAGES  # PaycoreQueueBacklog's condition held
    assert alerted >= 1  # the queue-overload admin alert (one per queue and hour)
    assert set(statuses) == {200}
    # Bounded well inside Cashfree's 5 s delivery timeout while the writes of the flood queue up
    # behind each other (the local database serialises writes).
    assert max(latencies) < 3.0, latencies
    assert not refused
    assert counts["lost"] == counts["doubled"] == 0
