"""Shared by the webhook benchmarks: services as real processes, a lean HTTP/1.1 load client
and percentiles."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from paycore.testing import TEST_ENCRYPTION_KEY
from processes import launch

ROOT = Path(__file__).resolve().parents[1]
SECRET = "TEST_SECRET_KEY"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(tag: str, **overrides: str) -> dict[str, str]:
    suffix = f"{tag}{int(time.time())}"
    return {
        **os.environ,
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "MONGO_DB": f"bench_{suffix}",
        "BROKER_PREFIX": f"bench-{suffix}.",
        "REDIS_PREFIX": f"bench:{suffix}:",
        "CASHFREE_WEBHOOK_SECRET": SECRET,
        "CASHFREE_APP_ID": "TEST_APP_ID",
        "CASHFREE_SECRET_KEY": SECRET,
        "OUTBOX_POLL_SECONDS": "0.5",
        "PAYMENT_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        **overrides,
    }


def start(
    args: Sequence[str], env: dict[str, str], port: int, log: Path
) -> subprocess.Popen[bytes]:
    """Starts `python args` on `port`; up once /health answers below 500 (the trivial app has
    no /health: 404)."""
    url = f"http://127.0.0.1:{port}/health"
    env = env | {"PORT": str(port)}
    return launch(log.stem, args, env, url, log, timeout=60, healthy=lambda status: status < 500)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


async def post_all(
    port: int, path: str, webhooks: list[tuple[bytes, dict[str, str]]], connections: int
) -> tuple[list[float], dict[int, int], float]:
    """POST every (body, headers) over `connections` keep-alive connections; returns each
    request's latency (seconds), the count per status and the wall time (seconds)."""
    queue = list(reversed(webhooks))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        connection = await Connection.open(port)
        try:
            while queue:
                body, headers = queue.pop()
                started = time.perf_counter()
                status = await connection.post(path, body, headers)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies, statuses, time.perf_counter() - started


class Connection:
    """One keep-alive HTTP/1.1 connection; much lighter than a general client, so the load
    generator takes less of the two cores away from the server it measures."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        head = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", f"content-length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readuntil(b"\r\n")
        length = 0
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
