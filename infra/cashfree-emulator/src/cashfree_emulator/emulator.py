"""The running emulator: state, armed faults, runtime config and background tasks."""

import asyncio
from collections.abc import Coroutine
from typing import Any

import httpx

from cashfree_emulator.faults import FaultBook
from cashfree_emulator.ratelimit import RateLimiter
from cashfree_emulator.settings import EmulatorSettings
from cashfree_emulator.store import Store
from cashfree_emulator.webhooks import WebhookDispatcher


class Emulator:
    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.webhooks = WebhookDispatcher(self)
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._load()

    def _load(self) -> None:
        self.store = Store(self.settings.initial_merchants())
        self.faults = FaultBook()
        self.config = self.settings.initial_config()
        self.rate_limiter = RateLimiter()

    def reset(self) -> None:
        """Back to the start-up settings: no orders, no faults, no pending deliveries."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._load()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run in the background; the task is kept so reset and shutdown can cancel it."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            # trust_env=False: webhook targets are local; a proxy from the environment must
            # never sit in between.
            self._http = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        return self._http

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
