"""Create-payment benchmark: the real payments-api against the Cashfree emulator.

    uv run python bench/payments_api_bench.py [--duration 15] [--connections 16] [--rate 100]

Starts, as separate processes on 127.0.0.1: the emulator, the payments-api (uvicorn, one
worker, the real MongoDB front, Redis and RabbitMQ) and `bench/trivial_app.py`. Then, in one run:

1. Saturation (closed loop, `wrk --latency` with a Lua script that sends a unique
   Idempotency-Key / order_id per request): the trivial endpoint, the emulator's own
   create-order, and `POST /api/v1/payments/create`.
2. Fixed rate (open loop, an asyncio client sending `--rate` requests per second whatever the
   answers do): the emulator's create-order and the payments-api create, so the latency the
   service adds over the gateway's own is measured at the same load.

Prints throughput, p50/p99 and errors per line, and the machine's core count and CPU model.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from processes import launch

ROOT = Path(__file__).resolve().parents[1]

APP_ID = "TEST_APP_ID"
SECRET_KEY = "TEST_SECRET_KEY"
JWT_SECRET = "bench-" + "j" * 40
CUSTOMER = '{"phone":"9876543210","name":"Bench Customer","email":"bench@example.com"}'
UNLIMITED = "1000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


def start(
    name: str, args: Sequence[str], env: dict[str, str], health_url: str, logs: Path
) -> Server:
    log = logs / f"{name}.log"
    return Server(name, launch(name, args, env, health_url, log, timeout=60), log)


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()


# --- closed loop: wrk --------------------------------------------------------------------------

WRK_API = """
counter = 0
local run = "{run}"
request = function()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = run .. "-" .. counter
  return wrk.format("POST", "/api/v1/payments/create", nil, wrk.body)
end
"""

WRK_EMULATOR = """
counter = 0
local run = "{run}"
request = function()
  counter = counter + 1
  local body = '{{"order_id":"' .. run .. '_' .. counter .. '","order_amount":100.00,' ..
    '"order_currency":"INR","customer_details":{{"customer_id":"cus_bench",' ..
    '"customer_phone":"9876543210"}}}}'
  wrk.headers["x-idempotency-key"] = run .. "-" .. counter
  return wrk.format("POST", "/pg/orders", nil, body)
end
"""


@dataclass
class Figures:
    label: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(
    label: str,
    url: str,
    *,
    duration: int,
    connections: int,
    headers: dict[str, str],
    body: str | None = None,
    script: str | None = None,
    workdir: Path,
) -> Figures:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    if script is not None:
        path = workdir / (re.sub(r"\W+", "_", label) + ".lua")
        preamble = f"wrk.method = 'POST'\nwrk.body = [[{body or ''}]]\n" if body else ""
        path.write_text(preamble + script)
        args += ["-s", str(path)]
    output = subprocess.run(
        [*args, url], capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", output).group(1))  # type: ignore[union-attr]
    seconds_text = re.search(r"requests in ([\d.]+\w+)", output).group(1)  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+\w+)", output).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+\w+)", output).group(1)  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(group) for group in socket_errors.groups())
    return Figures(label, requests, _ms(seconds_text) / 1000, _ms(p50), _ms(p99), errors)


# --- open loop: a fixed request rate ----------------------------------------------------------


def create_calls(
    run: str,
    emulator_url: str,
    emulator_headers: dict[str, str],
    api_url: str,
    api_headers: dict[str, str],
    create_body: str,
) -> tuple[Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]], ...]:
    """The two open-loop calls compared at a fixed rate: create an order at the emulator, and
    create a payment through payments-api (which creates the order there). Each call's number
    and the clock make its idempotency key unique across lines of one run."""

    async def emulator_create(client: httpx.AsyncClient, number: int) -> httpx.Response:
        order = f"r{run}_{number}_{time.time_ns()}"
        return await client.post(
            f"{emulator_url}/pg/orders",
            content=(
                f'{{"order_id":"{order}","order_amount":100.00,"order_currency":"INR",'
                '"customer_details":{"customer_id":"cus_bench","customer_phone":"9876543210"}}'
            ),
            headers={**emulator_headers, "x-idempotency-key": order},
        )

    async def api_create(client: httpx.AsyncClient, number: int) -> httpx.Response:
        return await client.post(
            f"{api_url}/api/v1/payments/create",
            content=create_body,
            headers={**api_headers, "idempotency-key": f"r{run}-{number}-{time.time_ns()}"},
        )

    return emulator_create, api_create


async def fixed_rate(
    label: str,
    send: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    *,
    rate: float,
    duration: float,
    timeout: float = 30,
) -> Figures:
    """Starts a request every 1/rate seconds regardless of answers (no coordinated omission);
    a request unanswered after `timeout` seconds counts as an error at that latency."""
    latencies: list[float] = []
    errors = 0
    total = int(rate * duration)
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def one(number: int, scheduled: float) -> None:
            nonlocal errors
            try:
                response = await send(client, number)
                if response.status_code >= 300:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - scheduled)

        started = time.perf_counter()
        tasks = []
        for number in range(total):
            scheduled = started + number / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(number, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Figures(
        label,
        total,
        elapsed,
        latencies[len(latencies) // 2] * 1000,
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        errors,
    )


# --- the run ------------------------------------------------------------------------------------


def service_env(run: str, port: int, emulator_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "PORT": str(port),
        "MONGO_DB": f"bench_{run}",
        "BROKER_PREFIX": f"bench-{run}.",
        "REDIS_PREFIX": f"bench:{run}:",
        "CASHFREE_APP_ID": APP_ID,
        "CASHFREE_SECRET_KEY": SECRET_KEY,
        "CASHFREE_BASE_URL": f"{emulator_url}/pg",
        "CHECKOUT_BASE_URL": f"{emulator_url}/checkout/",
        "JWT_SECRET": JWT_SECRET,
        "PAYMENT_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
        # Load from one user and one IP: limits and velocity checks would (rightly) stop it.
        "RATE_LIMIT_USER_PER_MINUTE": UNLIMITED,
        "RATE_LIMIT_IP_PER_MINUTE": UNLIMITED,
        **{
            f"FRAUD_{kind}_PER_{subject}": UNLIMITED
            for kind in ("REVIEW", "BLOCK")
            for subject in ("USER", "IP", "EMAIL", "DEVICE")
        },
        "FRAUD_REVIEW_AMOUNT": UNLIMITED,
    }


async def cleanup(run: str) -> None:
    import aio_pika
    from paycore.kit.events import EXCHANGES
    from pymongo import AsyncMongoClient
    from redis.asyncio import Redis

    mongo_uri = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri)
    await mongo.drop_database(f"bench_{run}")
    await mongo.close()
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    async for key in redis.scan_iter(f"bench:{run}:*", count=1000):
        await redis.delete(key)
    await redis.aclose()
    rabbit = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    connection = await aio_pika.connect(rabbit)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(f"bench-{run}.events.archive")
        for family in EXCHANGES:
            await channel.exchange_delete(f"bench-{run}.{family}.exchange")


def main() -> None:
    parser = argparse.ArgumentParser(description="payments-api create-payment benchmark")
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--rate", type=float, default=100, help="open-loop requests per second")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required (apt-get install wrk)")

    from paycore.auth.tokens import mint_token

    run = f"{int(time.time())}{uuid.uuid4().hex[:4]}"
    logs = Path(tempfile.mkdtemp(prefix="bench-payments-api-"))
    emulator_port, api_port, trivial_port = free_port(), free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    trivial_url = f"http://127.0.0.1:{trivial_port}"
    token = mint_token(JWT_SECRET, "usr_bench", ["write"], issuer="paycore", ttl_seconds=7200)
    api_headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    emulator_headers = {
        "x-client-id": APP_ID,
        "x-client-secret": SECRET_KEY,
        "x-api-version": "2025-01-01",
        "content-type": "application/json",
    }
    create_body = f'{{"amount":10000,"currency":"INR","customer":{CUSTOMER}}}'

    servers: list[Server] = []
    results: list[Figures] = []
    saturated_cpu = 0.0
    try:
        servers.append(
            start(
                "emulator",
                ["-m", "cashfree_emulator", "--port", str(emulator_port)],
                {**os.environ, "EMULATOR_LOG_LEVEL": "warning"},
                f"{emulator_url}/_emulator/health",
                logs,
            )
        )
        servers.append(
            start(
                "trivial",
                [
                    "-m", "uvicorn", "trivial_app:app", "--app-dir", str(ROOT / "bench"),
                    "--port", str(trivial_port), "--loop", "uvloop", "--http", "httptools",
                    "--no-access-log", "--log-level", "warning",
                ],
                dict(os.environ),
                f"{trivial_url}/ping",
                logs,
            )
        )  # fmt: skip
        servers.append(
            start(
                "payments-api",
                ["-m", "payments_api"],
                service_env(run, api_port, emulator_url),
                f"{api_url}/health/ready",
                logs,
            )
        )
        # Warm-up: connection pools, first-call imports, the audit chain head.
        wrk(
            "warm-up",
            api_url,
            duration=3,
            connections=4,
            headers=api_headers,
            body=create_body,
            script=WRK_API.format(run=f"w{run}"),
            workdir=logs,
        )
        workdir = logs
        results.append(
            wrk(
                "trivial POST /echo (closed loop)",
                f"{trivial_url}/echo",
                duration=args.duration,
                connections=args.connections,
                headers={"content-type": "application/json"},
                body=create_body,
                script="",
                workdir=workdir,
            )
        )
        results.append(
            wrk(
                "emulator create-order (closed loop)",
                emulator_url,
                duration=args.duration,
                connections=args.connections,
                headers=emulator_headers,
                script=WRK_EMULATOR.format(run=f"e{run}"),
                workdir=workdir,
            )
        )
        api_pid = servers[-1].process.pid
        cpu_before = cpu_seconds(api_pid)
        results.append(
            wrk(
                "payments-api create (closed loop)",
                api_url,
                duration=args.duration,
                connections=args.connections,
                headers=api_headers,
                body=create_body,
                script=WRK_API.format(run=f"a{run}"),
                workdir=workdir,
            )
        )

        saturated_cpu = cpu_seconds(api_pid) - cpu_before

        emulator_create, api_create = create_calls(
            run, emulator_url, emulator_headers, api_url, api_headers, create_body
        )

        results.append(
            asyncio.run(
                fixed_rate(
                    f"emulator create-order at {args.rate:g}/s",
                    emulator_create,
                    rate=args.rate,
                    duration=args.duration,
                )
            )
        )
        results.append(
            asyncio.run(
                fixed_rate(
                    f"payments-api create at {args.rate:g}/s",
                    api_create,
                    rate=args.rate,
                    duration=args.duration,
                )
            )
        )
    finally:
        for server in reversed(servers):
            stop(server)
        asyncio.run(cleanup(run))

    cores = os.cpu_count()
    print(f"\nmachine: {cores} cores ({cpu_model()}), python {platform.python_version()}")
    print(f"wrk: 1 thread, {args.connections} connections, {args.duration}s per line")
    print(f"{'measurement':40} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for figures in results:
        print(
            f"{figures.label:40} {figures.rate:8.0f} {figures.p50_ms:8.1f} "
            f"{figures.p99_ms:8.1f} {figures.errors:7d}"
        )
    by_label = {figures.label: figures for figures in results}
    emulator = by_label[f"emulator create-order at {args.rate:g}/s"]
    service = by_label[f"payments-api create at {args.rate:g}/s"]
    print(
        f"\nat {args.rate:g}/s the service adds {service.p50_ms - emulator.p50_ms:.1f} ms at p50 "
        f"and {service.p99_ms - emulator.p99_ms:.1f} ms at p99 over the emulator's own create-order"
    )
    saturated = by_label["payments-api create (closed loop)"]
    print(
        f"saturation: {saturated.rate:.0f} creates/s with 1 worker process "
        f"({saturated.rate / (cores or 1):.0f} per core of {cores})"
    )
    if saturated.requests:
        per_create = saturated_cpu / saturated.requests * 1000
        print(
            f"service CPU per create (closed loop): {per_create:.1f} ms, i.e. at most "
            f"{1000 / per_create:.0f} creates/s per core if the database kept up"
        )
    print(f"logs: {logs}")


if __name__ == "__main__":
    main()
