"""The reconciler's jobs run on one replica at a time: the lock is held as long as the job runs,
and a job whose lock another replica took is stopped."""

import asyncio
from pathlib import Path
from typing import cast

import pytest
import yaml
from paycore.kit.redis import Lock, redis_key
from paycore.kit.service import InfraSettings, Resources
from paycore.reconciliation.engine import ReconciliationEngine
from reconciler.jobs import LockLost, every, run_holding, scheduled_jobs
from reconciler.settings import Settings
from redis.asyncio import Redis


async def test_a_job_longer_than_the_lock_expiry_keeps_it(
    redis: Redis, database: InfraSettings
) -> None:
    key = redis_key(database.redis_prefix, "lock", "job", "reconcile")
    # Renewed every third of its expiry: a renewal up to two thirds of it late (a stalled loop
    # or Redis on a loaded machine) still holds it; 200 ms, with 300, was tight.
    mine = Lock(redis, key, 500)
    assert await mine.acquire()
    other_got_it = []

    async def job() -> str:
        for _ in range(10):  # a second, twice the expiry
            await asyncio.sleep(0.1)
            other_got_it.append(await Lock(redis, key, 500).acquire())
        return "done"

    assert await run_holding(mine, job) == "done"
    assert other_got_it == [False] * 10


async def test_a_job_whose_lock_was_taken_is_stopped(redis: Redis, database: InfraSettings) -> None:
    key = redis_key(database.redis_prefix, "lock", "job", "reconcile")
    mine = Lock(redis, key, 300)
    assert await mine.acquire()
    stopped = asyncio.Event()

    async def job() -> None:
        try:
            await redis.set(key, "another-replica", px=10_000)  # ours expired, say, in a pause
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            stopped.set()
            raise

    with pytest.raises(LockLost):
        await run_holding(mine, job)
    assert stopped.is_set()


async def test_a_killed_holder_keeps_the_job_from_the_others_only_until_its_lock_expires(
    redis: Redis, database: InfraSettings
) -> None:
    # Found by the chaos suite: a reconciler killed mid-job held the queue watch's lock for a
    # minute, and the backlog alert saw nothing while a flood waited in the queue.
    settings = Settings.model_construct(redis_prefix=database.redis_prefix, job_lock_seconds=0.6)
    key = redis_key(database.redis_prefix, "lock", "job", "queues")
    await redis.set(key, "a-killed-replica", px=600)  # never released: its holder is gone
    loop = asyncio.get_running_loop()
    started = loop.time()
    ran: list[tuple[float, int]] = []
    first_run = asyncio.Event()

    async def job() -> None:
        ran.append((loop.time() - started, await redis.pttl(key)))
        first_run.set()

    resources = Resources(database, redis=redis)
    loop_task = asyncio.create_task(every("queues", 0.05, job, settings)(resources))
    try:
        await asyncio.wait_for(first_run.wait(), timeout=5)
    finally:
        resources.stopping.set()
        await asyncio.wait_for(loop_task, timeout=5)  # the loop ends when the service stops
    waited, expiry_ms = ran[0]
    assert 0.5 <= waited < 2  # not before the dead holder's lock expired, soon after
    assert 0 < expiry_ms <= 600  # and its own lock is the configured length


def test_the_stalled_job_alert_and_its_runbook_name_every_scheduled_job() -> None:
    """The on-call reads the job list in the alert and the runbook: a job added to
    scheduled_jobs must appear there too (queues and retention were once missing)."""
    root = Path(__file__).resolve().parents[3]
    jobs = scheduled_jobs(
        Settings.model_construct(), cast(ReconciliationEngine, None), cast(Resources, None)
    )
    listed = "(" + ", ".join(job.__name__ for job in jobs) + ")"
    rules = yaml.safe_load((root / "infra/prometheus/alerts.yml").read_text())
    stalled = next(
        rule
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "PaycoreJobStalled"
    )
    assert listed in stalled["annotations"]["description"]
    assert listed in (root / "docs/runbooks/PaycoreJobStalled.md").read_text()
