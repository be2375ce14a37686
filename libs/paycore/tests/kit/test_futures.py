"""A step its caller's cancellation must not cut in two (`finish_before_cancelling`)."""

import asyncio

import pytest
from paycore.kit.futures import finish_before_cancelling


class Step:
    """Waits until released, then records that it finished."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.finished = False

    async def run(self) -> str:
        await self.release.wait()
        self.finished = True
        return "recorded"


async def cancelled_while_running(step: Step) -> asyncio.Task[str]:
    """The step run through `finish_before_cancelling`, and its caller cancelled once."""
    caller = asyncio.create_task(finish_before_cancelling(step.run()))
    await asyncio.sleep(0.01)
    caller.cancel()
    await asyncio.sleep(0.01)
    return caller


async def test_without_a_cancellation_the_result_passes_through() -> None:
    step = Step()
    step.release.set()
    assert await finish_before_cancelling(step.run()) == "recorded"


async def test_a_cancelled_caller_waits_for_the_step_then_is_cancelled() -> None:
    step = Step()
    caller = await cancelled_while_running(step)
    await asyncio.sleep(0.05)
    assert not caller.done()
    step.release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert step.finished


async def test_a_second_cancellation_passes_at_once_and_the_step_runs_on() -> None:
    step = Step()
    caller = await cancelled_while_running(step)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    step.release.set()
    await asyncio.sleep(0.01)
    assert step.finished
