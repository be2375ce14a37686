"""The reconciler's scheduled jobs. Each runs on one replica at a time (a Redis lock)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from loguru import logger
from paycore.alerts.queues import watch_queues
from paycore.audit.trail import sweep_and_verify
from paycore.kit.broker import Consumer
from paycore.kit.metrics import JOB_INTERVAL, JOB_LAST_SUCCESS, JOB_RUNS
from paycore.kit.redis import Lock, redis_key
from paycore.kit.service import Resources
from paycore.reconciliation.engine import ReconciliationEngine
from paycore.reconciliation.invariants import check_money_invariants
from paycore.reconciliation.windows import due_windows
from paycore.webhooks.repository import WebhookLogRepository

from reconciler.settings import Settings


class LockLost(Exception):
    """Another replica took the job's lock (this one could not extend it in time)."""


async def run_holding(lock: Lock, job: Callable[[], Awaitable[object]]) -> object:
    """Runs `job` while extending `lock` every third of its expiry, so a job longer than the
    expiry stays the only one; if the lock is lost the job is cancelled (`LockLost`): every
    job here is safe to stop half-way and is resumed by the next holder."""
    task = asyncio.ensure_future(job())
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=lock.ttl_ms / 3000)
            if done:
                return task.result()
            if not await lock.extend():
                raise LockLost(lock.key)
    finally:
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


def every(
    name: str, interval: float, job: Callable[[], Awaitable[object]], settings: Settings
) -> Callable[[Resources], Awaitable[None]]:
    """A background loop that runs `job` every `interval` seconds, on one replica at a time
    (a Redis lock held for as long as the job runs). A failing job is logged and tried again
    at the next interval; it never ends the loop.

    Its heartbeat starts at the process start: a replica that never wins the lock keeps that
    value, and the alert takes the newest over the replicas."""
    JOB_INTERVAL.labels(name).set(interval)
    JOB_LAST_SUCCESS.labels(name).set_to_current_time()

    async def loop(resources: Resources) -> None:
        assert resources.redis is not None
        key = redis_key(settings.redis_prefix, "lock", "job", name)
        # Ends when the service stops, not only when cancelled: on Python 3.11 a cancellation
        # that lands as a Redis reply arrives is lost inside asyncio.wait_for (redis-py's
        # reads), and the loop would run on through the shutdown.
        while not resources.stopping.is_set():
            lock = Lock(resources.redis, key, int(settings.job_lock_seconds * 1000))
            if await lock.acquire():
                try:
                    result = await run_holding(lock, job)
                    JOB_RUNS.labels(name, "ok").inc()
                    JOB_LAST_SUCCESS.labels(name).set_to_current_time()
                    logger.info("job finished", job=name, result=str(result))
                except Exception:
                    JOB_RUNS.labels(name, "failed").inc()
                    logger.exception("job failed; tried again next interval", job=name)
                finally:
                    await lock.release()
            with suppress(TimeoutError):
                await asyncio.wait_for(resources.stopping.wait(), timeout=interval)

    loop.__name__ = name
    return loop


def scheduled_jobs(
    settings: Settings,
    engine: ReconciliationEngine,
    resources: Resources,
    watched: Sequence[Consumer] = (),
) -> list[Callable[[Resources], Awaitable[None]]]:
    """The loops of the jobs; `watched` are the queues the queue watch reads, with the Redis
    of `resources` (the queue-overload alert's incident start)."""

    async def janitor() -> str:
        rechecked = await engine.janitor.recheck_due_payments()
        repaired = await engine.janitor.repair_reservations(
            timedelta(seconds=settings.orphan_reservation_seconds)
        )
        return (
            f"checked={rechecked.checked} moved={rechecked.moved} failed={rechecked.failed}"
            f" reservations_repaired={repaired}"
        )

    async def reconcile() -> str:
        # Every due window, oldest first; a window that ends FAILED is due again next time.
        ran = []
        for schedule, start, end in await due_windows(datetime.now(UTC)):
            run = await engine.run(start, end, schedule)
            ran.append(f"{run.run_id}:{run.status}")
        # Windows an operator asked for (admin API).
        for requested in await engine.repository.requested_runs():
            run = await engine.run(requested.window_start, requested.window_end, "manual")
            ran.append(f"{run.run_id}:{run.status}")
        await engine.refresh_gauges()
        return " ".join(ran) or "nothing due"

    async def retention() -> str:
        cutoff = datetime.now(UTC) - timedelta(days=settings.webhook_log_retention_days)
        return f"webhook logs deleted={await WebhookLogRepository().delete_received_before(cutoff)}"

    async def invariants() -> dict[str, int]:
        found = await check_money_invariants(timedelta(seconds=settings.reservation_stuck_seconds))
        for kind, payment_ids in found.items():
            if payment_ids:
                logger.error("money invariant broken", kind=kind, paymentIds=payment_ids[:20])
        return {kind: len(payment_ids) for kind, payment_ids in found.items()}

    async def audit_verify() -> str:
        broken, checked = await sweep_and_verify()
        if broken:
            logger.error("audit chains broken", resources=broken[:20], count=len(broken))
        return f"checked={checked} broken={len(broken)}"

    async def queues() -> dict[str, int]:
        assert resources.redis is not None  # connected before the loops start
        return await watch_queues(
            watched, settings.queue_overload_messages, resources.redis, settings.redis_prefix
        )

    return [
        every("queues", settings.queue_report_seconds, queues, settings),
        every("retention", settings.retention_interval_seconds, retention, settings),
        every("janitor", settings.janitor_interval_seconds, janitor, settings),
        every("reconcile", settings.reconcile_interval_seconds, reconcile, settings),
        every("invariants", settings.invariants_interval_seconds, invariants, settings),
        every("audit_verify", settings.audit_verify_interval_seconds, audit_verify, settings),
    ]
