"""Run the emulator for tests: a real uvicorn server on a free port, in its own thread.

The thread has its own event loop, so the emulator works whatever loop (or none) the test
runs on; talk to it over HTTP only. `webhook_receiver()` is a recording webhook endpoint
served the same way.
"""

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cashfree_emulator.app import create_app
from cashfree_emulator.control import EmulatorControl
from cashfree_emulator.settings import EmulatorSettings

DEFAULT_API_VERSION = "2025-01-01"


class ServerThread:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port in a daemon thread."""

    def __init__(self, name: str) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any, timeout: float = 10.0) -> None:
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            # Hanging-call faults must not hold up shutdown.
            timeout_graceful_shutdown=1,
        )
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [self._socket]},
            name=f"{self._name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self._name} did not start")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
        self._socket.close()


class EmulatorThread(ServerThread):
    """The emulator, started and stopped synchronously (e.g. from a sync fixture)."""

    def __init__(self, **settings: Any) -> None:
        super().__init__("cashfree-emulator")
        self.settings = EmulatorSettings(**{**settings, "host": "127.0.0.1", "port": self.port})

    def start(self, app: Any = None, timeout: float = 10.0) -> None:
        super().start(app or create_app(self.settings), timeout)


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


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    received_at: float


@dataclass
class WebhookReceiver:
    """Records every POST; answers with the queued statuses first, then `default_status`."""

    base_url: str
    default_status: int = 200
    received: list[ReceivedWebhook] = field(default_factory=list)
    _queued: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.base_url + "/webhooks"

    def respond_with(self, *statuses: int) -> None:
        """The next requests get these statuses, in order (e.g. 500 to force a retry)."""
        with self._lock:
            self._queued.extend(statuses)

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self._queued.clear()
            self.default_status = 200

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedWebhook]:
        async with asyncio.timeout(timeout):
            # Requests arrive on the server thread's loop; an asyncio.Event cannot cross.
            while len(self.received) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        return list(self.received)

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            status = self._queued.pop(0) if self._queued else self.default_status
            self.received.append(
                ReceivedWebhook(
                    request.url.path, dict(request.headers), body, status, time.monotonic()
                )
            )
        return Response(status_code=status)


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    """A recording webhook endpoint at `receiver.url` (any path under it is accepted too)."""
    server = ServerThread("webhook-receiver")
    receiver = WebhookReceiver(server.base_url)
    app = Starlette(routes=[Route("/{path:path}", receiver._handle, methods=["POST"])])
    await asyncio.to_thread(server.start, app)
    try:
        yield receiver
    finally:
        await asyncio.to_thread(server.stop)
