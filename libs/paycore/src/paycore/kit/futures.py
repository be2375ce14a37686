"""Answering the callers that wait on a shared write (the group commits of `kit.outbox` and
`kit.audit`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


def settle(futures: Iterable[asyncio.Future[None]], failure: BaseException | None) -> None:
    """Resolves each waiting future with None, or `failure` if the shared write failed (a
    future whose caller was cancelled is already done and left alone)."""
    for future in futures:
        if future.done():
            continue
        if failure is None:
            future.set_result(None)
        else:
            future.set_exception(failure)
