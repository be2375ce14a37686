"""The gateway's HTTP client: client CPU per create-order, for each client worth considering,
against the Cashfree emulator, beside a raw asyncio-streams floor measured in the same run.

    uv run python bench/gateway_client_bench.py [--requests 3000] [--rounds 3]

Each client sends the request `CashfreeGateway.create_order` sends (`POST /pg/orders`, the
same headers and a ~200-byte JSON body, a unique order id and idempotency key each time) from
`--concurrency` tasks over keep-alive connections, and reads the whole answer. The figure is
this process's CPU time (user + system, `time.process_time`) per request: the emulator runs in
its own process, so its cost is not counted. Rounds alternate the clients, and the median
round is printed, so a busy machine weighs on every client alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import httpcore
import httpx
import uvloop
from paycore.gateway.cashfree import CashfreeGateway
from paycore.gateway.schemas import GatewayCustomer, GatewayOrderRequest
from paycore.kit.settings import CashfreeSettings
from payments_api_bench import APP_ID, SECRET_KEY, cpu_model, free_port
from processes import launch

PATH = "/pg/orders"
Send = Callable[[int], Awaitable[bytes]]


def order_body(n: int, run: str) -> bytes:
    return (
        f'{{"order_id":"ord_{run}_{n}","order_amount":100.00,"order_currency":"INR",'
        '"customer_details":{"customer_id":"cus_bench","customer_phone":"9876543210"}}'
    ).encode()


def fixed_headers() -> dict[str, str]:
    return {
        "x-client-id": APP_ID,
        "x-client-secret": SECRET_KEY,
        "x-api-version": "2025-01-01",
        "accept": "application/json",
    }


def call_headers(n: int, run: str) -> dict[str, str]:
    return {
        "x-request-id": f"req_{run}_{n}",
        "x-idempotency-key": f"{run}-{n}",
        "content-type": "application/json",
    }


def check(status: int, body: bytes) -> bytes:
    if status != 200:
        raise RuntimeError(f"create-order answered {status}: {body[:200]!r}")
    return body


# --- the clients: each an async context giving `send(n)` ------------------------------------


class RawStreams:
    """The floor: hand-written HTTP/1.1 on asyncio streams, one connection per task."""

    label = "raw asyncio streams (floor)"

    def __init__(self, host: str, port: int, run: str) -> None:
        self.host, self.port, self.run = host, port, run
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def __aenter__(self) -> Send:
        return self.send

    async def __aexit__(self, *exc: object) -> None:
        for _, writer in self.idle:
            writer.close()

    async def send(self, n: int) -> bytes:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        body = order_body(n, self.run)
        head = "".join(
            f"{name}: {value}\r\n"
            for name, value in {**fixed_headers(), **call_headers(n, self.run)}.items()
        )
        writer.write(
            f"POST {PATH} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n{head}"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status_line, _, headers = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        length = 0
        for line in headers.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await reader.readexactly(length)
        self.idle.append((reader, writer))
        return check(int(status_line.split()[1]), answer)


class HttpxPaycore:
    """httpx.AsyncClient configured as `CashfreeGateway` configures it, called as it calls it."""

    label = "httpx.AsyncClient as paycore configures it"

    def __init__(self, url: str, run: str, trust_env: bool = True) -> None:
        self.run = run
        self.client = httpx.AsyncClient(
            base_url=url + "/pg/",
            timeout=httpx.Timeout(10.0, connect=5.0),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            headers=fixed_headers(),
            trust_env=trust_env,
        )

    async def __aenter__(self) -> Send:
        return self.send

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def send(self, n: int) -> bytes:
        answer = await self.client.request(
            "POST", "orders", headers=call_headers(n, self.run), content=order_body(n, self.run)
        )
        return check(answer.status_code, answer.content)


class NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class HttpxLean(HttpxPaycore):
    """The same, with no cookie store and no environment (proxies, .netrc) lookups."""

    label = "httpx.AsyncClient, no cookies, trust_env=False"

    def __init__(self, url: str, run: str) -> None:
        super().__init__(url, run, trust_env=False)
        self.client._cookies = NoCookies()


class HttpxTransport:
    """httpx.AsyncHTTPTransport (httpcore's pool under httpx's request, answer and error
    types) called directly: what the client adds (cookies, auth, redirects, URL and header
    merging, event hooks, its log line) left out."""

    label = "httpx.AsyncHTTPTransport directly"

    def __init__(self, url: str, run: str) -> None:
        self.url, self.run = httpx.URL(url + PATH), run
        self.transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20)
        )
        self.fixed = fixed_headers()
        self.timeouts = httpx.Timeout(10.0, connect=5.0).as_dict()

    async def __aenter__(self) -> Send:
        return self.send

    async def __aexit__(self, *exc: object) -> None:
        await self.transport.aclose()

    async def send(self, n: int) -> bytes:
        request = httpx.Request(
            "POST",
            self.url,
            headers={**self.fixed, **call_headers(n, self.run)},
            content=order_body(n, self.run),
            extensions={"timeout": self.timeouts},
        )
        answer = await self.transport.handle_async_request(request)
        return check(answer.status_code, await answer.aread())


class HttpcorePool:
    """httpcore.AsyncConnectionPool (httpx's own transport underneath) called directly."""

    label = "httpcore.AsyncConnectionPool directly"

    def __init__(self, url: str, run: str) -> None:
        self.url, self.run = url + PATH, run
        self.pool = httpcore.AsyncConnectionPool(max_connections=50, max_keepalive_connections=20)
        self.fixed = [(k.encode(), v.encode()) for k, v in fixed_headers().items()]
        self.timeouts = {"connect": 5.0, "read": 10.0, "write": 10.0, "pool": 10.0}

    async def __aenter__(self) -> Send:
        return self.send

    async def __aexit__(self, *exc: object) -> None:
        await self.pool.aclose()

    async def send(self, n: int) -> bytes:
        body = order_body(n, self.run)
        headers = [
            *self.fixed,
            *((k.encode(), v.encode()) for k, v in call_headers(n, self.run).items()),
            (b"content-length", str(len(body)).encode()),
        ]
        answer = await self.pool.request(
            "POST", self.url, headers=headers, content=body, extensions={"timeout": self.timeouts}
        )
        return check(answer.status, answer.content)


class Aiohttp:
    label = "aiohttp.ClientSession"

    def __init__(self, url: str, run: str) -> None:
        self.url, self.run = url + PATH, run

    async def __aenter__(self) -> Send:
        self.session = aiohttp.ClientSession(
            headers=fixed_headers(),
            timeout=aiohttp.ClientTimeout(total=10.0, connect=5.0),
            connector=aiohttp.TCPConnector(limit=50),
        )
        return self.send

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def send(self, n: int) -> bytes:
        async with self.session.post(
            self.url, headers=call_headers(n, self.run), data=order_body(n, self.run)
        ) as answer:
            return check(answer.status, await answer.read())


class Gateway:
    """The whole `CashfreeGateway.create_order`: its client (aiohttp) plus the request and
    answer models, the error mapping and the metrics."""

    label = "CashfreeGateway.create_order (whole call)"

    def __init__(self, url: str, run: str) -> None:
        self.gateway, self.run = (
            CashfreeGateway(self.settings(url), transport=self.transport()),
            run,
        )
        self.customer = GatewayCustomer(customer_id="cus_bench", phone="9876543210")

    @staticmethod
    def settings(url: str) -> CashfreeSettings:
        return CashfreeSettings(
            cashfree_app_id=APP_ID,
            cashfree_secret_key=SECRET_KEY,
            cashfree_base_url=url + "/pg",
        )

    def transport(self) -> httpx.AsyncBaseTransport | None:
        return None  # its own: aiohttp

    async def __aenter__(self) -> Send:
        return self.send

    async def __aexit__(self, *exc: object) -> None:
        await self.gateway.aclose()

    async def send(self, n: int) -> bytes:
        request = GatewayOrderRequest(
            order_id=f"ord_{self.run}_{n}",
            amount_minor=10000,
            currency="INR",
            customer=self.customer,
        )
        await self.gateway.create_order(
            request, idempotency_key=f"{self.run}-{n}", request_id=f"req_{self.run}_{n}"
        )
        return b""


class GatewayOverHttpx(Gateway):
    """The same call sent as before aiohttp: an httpx.AsyncClient over httpx's own transport."""

    label = "CashfreeGateway.create_order over httpx (as before)"

    def transport(self) -> httpx.AsyncBaseTransport | None:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
        return httpx.AsyncHTTPTransport(limits=limits)


# --- the measurement --------------------------------------------------------------------------


async def measure(client: object, requests: int, concurrency: int) -> tuple[float, float]:
    """(client CPU ms per request, requests per second) for `requests` sent by `concurrency`
    tasks, after a warm-up of 100."""
    async with AsyncExitStack() as stack:
        send: Send = await stack.enter_async_context(client)  # type: ignore[arg-type]
        numbers = iter(range(requests + 100))

        async def worker(count: int) -> None:
            for _ in range(count):
                await send(next(numbers))

        await asyncio.gather(*(worker(100 // concurrency) for _ in range(concurrency)))
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = requests // concurrency * concurrency
    return cpu / done * 1000, done / wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000, help="per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp(prefix="gateway-client-")) / "emulator.log"
    emulator = launch(
        "emulator",
        ["-m", "cashfree_emulator", "--port", str(port), "--secret-key", SECRET_KEY],
        {**os.environ, "EMULATOR_LOG_LEVEL": "warning"},
        f"{url}/_emulator/health",
        log,
        timeout=60,
    )
    factories: list[Callable[[str], object]] = [
        lambda run: RawStreams("127.0.0.1", port, run),
        lambda run: HttpxPaycore(url, run),
        lambda run: HttpxLean(url, run),
        lambda run: HttpxTransport(url, run),
        lambda run: HttpcorePool(url, run),
        lambda run: Aiohttp(url, run),
        lambda run: GatewayOverHttpx(url, run),
        lambda run: Gateway(url, run),
    ]
    figures: dict[str, list[tuple[float, float]]] = {}
    try:
        for round_number in range(args.rounds):
            order = factories if round_number % 2 == 0 else factories[::-1]
            for factory in order:
                client = factory(uuid.uuid4().hex[:10])
                result = uvloop.run(measure(client, args.requests, args.concurrency))
                figures.setdefault(client.label, []).append(result)  # type: ignore[attr-defined]
    finally:
        emulator.terminate()
        emulator.wait(timeout=20)

    print(
        f"machine: {os.cpu_count()} cores, {cpu_model()}, {platform.platform()}, "
        f"Python {platform.python_version()}, httpx {httpx.__version__}, "
        f"httpcore {httpcore.__version__}; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{args.requests} create-orders per client per round, {args.concurrency} tasks, "
        f"median of {args.rounds} rounds (uvloop); emulator at {url}"
    )
    floor = statistics.median(cpu for cpu, _ in figures[RawStreams.label])
    print("| client | CPU ms per request | × floor | requests/s |\n|---|---:|---:|---:|")
    for label, results in figures.items():
        cpu = statistics.median(c for c, _ in results)
        rate = statistics.median(r for _, r in results)
        print(f"| {label} | {cpu:.3f} | {cpu / floor:.1f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
