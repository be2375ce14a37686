"""Answering the callers that wait on a shared write (the group commits of `kit.mongo` and
`kit.audit`), and finishing a step its caller's cancellation must not cut in two."""

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
