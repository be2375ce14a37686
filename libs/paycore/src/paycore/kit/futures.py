"""Answering the callers that wait on a shared write (the group commits of `kit.mongo` and
`kit.audit`), finishing a step its caller's cancellation must not cut in two, and keeping the
tasks nothing awaits until they end."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def settle(
    futures: Iterable[asyncio.Future[Any]], failure: BaseException | None, result: Any = None
) -> None:
    """Resolves each waiting future with `result`, or `failure` if the shared write failed (a
    future whose caller was cancelled is already done and left alone)."""
    for future in futures:
        if future.done():
            continue
        if failure is None:
            future.set_result(result)
        else:
            future.set_exception(failure)


async def finish_before_cancelling(work: Coroutine[Any, Any, T]) -> T:
    """Runs `work` to its end even if the caller is cancelled meanwhile, and only then lets the
    cancellation through (the result, or the error `work` raised, is dropped). For a step that
    must not stop halfway, such as an email the SMTP server accepted whose record is not yet
    written. A second cancellation while waiting passes at once; `work` still runs on."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the step reported its own outcome
        raise


class BackgroundTasks:
    """Tasks started and not awaited (a publish, a removal, an audit drain): kept here until they
    end, so that none is collected mid-flight and shutdown can wait for them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def finish(self) -> None:
        """Waits for the tasks running now (their errors are theirs to report)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
