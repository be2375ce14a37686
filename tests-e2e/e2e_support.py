"""Support for the end-to-end tests: services started as real processes with the development
settings of `infra/local/dev.env`, isolated by their own database, queue and Redis prefixes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from paycore.testing import unique_suffix
from run import dev_settings  # infra/local/run.py

ROOT = Path(__file__).resolve().parents[1]

SERVICES = {
    "payments-api": "payments_api",
    "webhook-ingress": "webhook_ingress",
    "webhook-processor": "webhook_processor",
    "refund-worker": "refund_worker",
    "email-worker": "email_worker",
    "reconciler": "reconciler",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(**overrides: str) -> dict[str, str]:
    """The development settings with a database, queue prefix and Redis prefix of their own."""
    suffix = unique_suffix()
    env = {
        **os.environ,
        **dev_settings(),
        "APP_ENV": "test",
        "MONGO_DB": f"e2e_{suffix}",
        "BROKER_PREFIX": f"e2e-{suffix}.",
        "REDIS_PREFIX": f"e2e:{suffix}:",
        "RETRY_DELAYS_MS": "[100, 200, 300]",
        "OUTBOX_POLL_SECONDS": "0.1",
        "OUTBOX_GRACE_SECONDS": "0.5",
        "SHUTDOWN_GRACE_SECONDS": "5",
        "QUEUE_EXPIRES_MS": "300000",
    }
    env.update(overrides)
    return env


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    health: str = "/health"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}{self.health}", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(
            f"{self.name} not healthy in {timeout}s: {self.log.read_text()[-3000:]}"
        )

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=timeout)


def start_service(
    name: str,
    env: dict[str, str],
    log_dir: Path,
    port: int | None = None,
    module: str | None = None,
    args: tuple[str, ...] = (),
    health: str = "/health",
) -> ServiceProcess:
    """Starts one of the six services (or, with `module`, a development server) as a process."""
    port = port or free_port()
    log = log_dir / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", module or SERVICES[name], *args],
        env={**env, "PORT": str(port), "SERVICE_NAME": name},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    return ServiceProcess(name, port, process, log, health)


class CuttableLink:
    """A TCP relay between one service and a server it uses, which the test can cut and
    restore: a real outage of that server as this one service sees it, while the shared server
    keeps running for everyone else. `cut` closes the listener and drops every connection
    (what a crashed server or a broken network looks like); `restore` listens again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.restore()

    def url(self, url: str) -> str:
        """`url` with its host and port replaced by this relay's."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@" if credentials else ""
        return urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{self.port}"))

    def _run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def restore(self) -> None:
        self._run(self._listen())

    def cut(self) -> None:
        self._run(self._cut())

    def close(self) -> None:
        self.cut()
        self._run(self._finish_relays())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _finish_relays(self) -> None:
        relays = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._relay, "127.0.0.1", self.port, reuse_address=True
        )

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, upstream_writer}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))
        self._open -= {writer, upstream_writer}


# The whole system as processes: the six services, the Cashfree emulator and the SMTP sink.
EMULATOR, SMTP_SINK = "cashfree-emulator", "smtp-sink"
SYSTEM = (EMULATOR, SMTP_SINK, *SERVICES)


def system_ports() -> dict[str, int]:
    """A free port for each service, the emulator, the SMTP sink's SMTP and its inbox."""
    return {name: free_port() for name in [*SERVICES, "emulator", "smtp", "inbox"]}


def ingress_url(ports: dict[str, int]) -> str:
    return f"http://127.0.0.1:{ports['webhook-ingress']}/api/v1/webhooks/cashfree"


def system_env(ports: dict[str, int], **overrides: str) -> dict[str, str]:
    """`isolated_env` with the services pointed at the emulator and the SMTP sink on `ports`."""
    return isolated_env(
        CASHFREE_BASE_URL=f"http://127.0.0.1:{ports['emulator']}/pg",
        CHECKOUT_BASE_URL=f"http://127.0.0.1:{ports['emulator']}/checkout/",
        SMTP_URL=f"smtp://127.0.0.1:{ports['smtp']}",
        **overrides,
    )


def start_member(
    name: str,
    env: dict[str, str],
    ports: dict[str, int],
    log_dir: Path,
    emulator_args: tuple[str, ...] = (),
) -> ServiceProcess:
    """Starts one process of the system (not waiting for it): a service, the emulator (sending
    its webhooks to the ingress; `emulator_args` added to its command line) or the SMTP sink."""
    if name == EMULATOR:
        port = ports["emulator"]
        args = ("--port", str(port), "--refund-delay-seconds", "0.3")
        args += ("--webhook-urls", ingress_url(ports), *emulator_args)
        return start_service(
            name,
            env,
            log_dir,
            port,
            module="cashfree_emulator",
            args=args,
            health="/_emulator/health",
        )
    if name == SMTP_SINK:
        args = ("--port", str(ports["smtp"]), "--http-port", str(ports["inbox"]))
        return start_service(name, env, log_dir, ports["inbox"], module="smtp_sink", args=args)
    return start_service(name, env, log_dir, ports[name])


def start_system(
    env: dict[str, str],
    ports: dict[str, int],
    log_dir: Path,
    started: list[ServiceProcess],
    timeout: float = 60,
    own_env: dict[str, dict[str, str]] | None = None,
) -> dict[str, ServiceProcess]:
    """Starts the whole system, each process appended to `started` (the `service_runner`
    fixture stops them), and waits until every one is healthy; returns them by name.
    `own_env`: a whole environment of its own for some of them, by name."""
    processes = {}
    for name in SYSTEM:
        processes[name] = start_member(name, (own_env or {}).get(name, env), ports, log_dir)
        started.append(processes[name])
    for process in processes.values():
        process.wait_healthy(timeout=timeout)
    return processes
