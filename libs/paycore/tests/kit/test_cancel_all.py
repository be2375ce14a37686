"""Stopping a service's background loops must end even when a library swallows a cancellation."""

import asyncio
import contextlib
import time

from paycore.kit.service import cancel_all


async def swallows_once() -> None:
    # What a library did to our outbox relay: back to the loop as if nothing happened.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await asyncio.sleep(3600)


async def swallows_until(released: asyncio.Event) -> None:
    while not released.is_set():
        try:
            await released.wait()
        except asyncio.CancelledError:
            continue


async def test_a_task_that_swallowed_a_cancellation_is_cancelled_again() -> None:
    task = asyncio.create_task(swallows_once())
    await asyncio.sleep(0)
    started = time.monotonic()

    await cancel_all([task], within_seconds=5)

    assert task.cancelled()
    assert time.monotonic() - started < 1.5


async def test_a_task_that_never_ends_is_left_after_the_deadline() -> None:
    released = asyncio.Event()
    stubborn = asyncio.create_task(swallows_until(released))
    polite = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    started = time.monotonic()

    await cancel_all([stubborn, polite], within_seconds=0.5)

    assert 0.5 <= time.monotonic() - started < 1.5
    assert polite.cancelled()
    assert not stubborn.done()
    released.set()
    await stubborn
