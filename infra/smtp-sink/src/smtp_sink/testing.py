"""The sink for tests: `async with running_smtp_sink() as sink:` gives a started SMTP server
on a free port (`sink.smtp_url`), its inbox (`sink.inbox.wait_for(1)`), and optionally the
HTTP inbox (`http=True`, `sink.http_url`). `sink.stop()` / `sink.start()` simulate an outage.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn

from smtp_sink.http import create_http_app
from smtp_sink.inbox import Inbox
from smtp_sink.server import SmtpSink, free_port


class _HttpThread:
    def __init__(self, inbox: Inbox, host: str) -> None:
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(
            create_http_app(inbox), host=host, port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="smtp-sink-http")

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("smtp-sink HTTP did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class RunningSmtpSink(SmtpSink):
    http_url: str | None = None


@asynccontextmanager
async def running_smtp_sink(
    *, http: bool = False, store_dir: Path | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[RunningSmtpSink]:
    sink = RunningSmtpSink(host, inbox=Inbox(store_dir=store_dir))
    await asyncio.to_thread(sink.start)
    http_thread = _HttpThread(sink.inbox, host) if http else None
    if http_thread is not None:
        await asyncio.to_thread(http_thread.start)
        sink.http_url = http_thread.url
    try:
        yield sink
    finally:
        if http_thread is not None:
            await asyncio.to_thread(http_thread.stop)
        await asyncio.to_thread(sink.stop)
