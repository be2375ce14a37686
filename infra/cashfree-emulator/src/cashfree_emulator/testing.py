"""Run the emulator for tests: a real uvicorn server on a free port, in its own thread.

The thread has its own event loop, so the emulator works whatever loop (or none) the test
runs on; talk to it over HTTP only.
"""

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from cashfree_emulator.app import create_app
from cashfree_emulator.control import EmulatorControl
from cashfree_emulator.settings import EmulatorSettings

DEFAULT_API_VERSION = "2025-01-01"


class EmulatorThread:
    """Start/stop the server synchronously (for sync fixtures); see `running_emulator`."""

    def __init__(self, **settings: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.settings = EmulatorSettings(**{**settings, "host": "127.0.0.1", "port": port})
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(self.settings),
            log_level="warning",
            lifespan="on",
            # Hanging-call faults must not hold up shutdown.
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"cashfree-emulator-{port}",
            daemon=True,
        )

    @property
    def started(self) -> bool:
        return self._server.started

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Cashfree emulator did not start")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()


@dataclass(frozen=True)
class RunningEmulator:
    base_url: str
    api_url: str
    control: EmulatorControl
    settings: EmulatorSettings

    @property
    def app_id(self) -> str:
        return self.settings.app_id

    @property
    def secret_key(self) -> str:
        return self.settings.secret_key

    def api_headers(self, api_version: str = DEFAULT_API_VERSION) -> dict[str, str]:
        """Authentication and version headers for the default merchant."""
        return {
            "x-client-id": self.app_id,
            "x-client-secret": self.secret_key,
            "x-api-version": api_version,
        }


@asynccontextmanager
async def running_emulator(**settings: Any) -> AsyncIterator[RunningEmulator]:
    """E.g. `async with running_emulator(refund_delay_seconds=0.05) as emu: emu.api_url`.

    Keyword arguments are `EmulatorSettings` fields (webhook_urls, webhook_retry_scale, ...).
    """
    server = EmulatorThread(**settings)
    await asyncio.to_thread(server.start)
    control = EmulatorControl(server.base_url)
    try:
        yield RunningEmulator(
            base_url=server.base_url,
            api_url=server.base_url + "/pg",
            control=control,
            settings=server.settings,
        )
    finally:
        await control.aclose()
        await asyncio.to_thread(server.stop)
