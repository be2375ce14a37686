"""Support for the end-to-end tests: services started as real processes with the development
settings of `infra/local/dev.env`, isolated by their own database, queue and Redis prefixes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

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
