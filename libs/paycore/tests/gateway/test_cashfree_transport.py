"""CashfreeGateway's own HTTP client (aiohttp, no transport given) against real sockets, for
what the emulator does not do: nobody listening, a connection cut mid-answer, a redirect."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from paycore.gateway import (
    CashfreeGateway,
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    RetryPolicy,
)
from paycore.kit.settings import CashfreeSettings

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Serve = Callable[[Answer], Awaitable[tuple[str, list[bytes]]]]


def gateway_at(url: str) -> CashfreeGateway:
    settings = CashfreeSettings(
        cashfree_app_id="TEST_APP_ID",
        cashfree_secret_key="TEST_SECRET_KEY",  # type: ignore[arg-type]
        cashfree_base_url=url,  # type: ignore[arg-type]
        cashfree_timeout_seconds=1.0,
        cashfree_max_retries=0,
    )
    return CashfreeGateway(settings, retry_policy=RetryPolicy(max_retries=0))


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts a one-off server that answers each connection with `answer`; its base URL and
    the request heads it read."""
    servers: list[asyncio.Server] = []

    async def start(answer: Answer) -> tuple[str, list[bytes]]:
        heads: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            await answer(reader, writer)
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/pg", heads

    yield start
    for server in servers:
        server.close()


async def test_nobody_listening_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with gateway_at(f"http://127.0.0.1:{port}/pg") as gateway:
        with pytest.raises(GatewayUnavailable) as raised:
            await gateway.get_order("ord_1")
    assert isinstance(raised.value.__cause__, aiohttp.ClientConnectorError)


def answering(raw: bytes) -> Answer:
    """Writes `raw` back (then the connection is closed)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()

    return answer


async def test_connection_cut_mid_answer_is_an_unknown_outcome(serve: Serve) -> None:
    cut = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500"
    url, heads = await serve(answering(cut))
    async with gateway_at(url) as gateway:
        with pytest.raises(GatewayTimeout) as raised:
            await gateway.get_order("ord_1")
    assert isinstance(raised.value.__cause__, aiohttp.ClientError)
    assert heads[0].startswith(b"GET /pg/orders/ord_1 HTTP/1.1")


async def test_redirect_is_not_followed_and_ids_stay_encoded(serve: Serve) -> None:
    redirect = b"HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n"
    url, heads = await serve(answering(redirect))
    async with gateway_at(url) as gateway:
        with pytest.raises(GatewayError):
            await gateway.get_order("ord/1 x")
    [head] = heads  # one request: the redirect was not followed
    request_line, *header_lines = head.decode().split("\r\n")
    assert request_line == "GET /pg/orders/ord%2F1%20x HTTP/1.1"
    sent = dict(line.lower().split(": ", 1) for line in header_lines if line)
    expected = {
        "x-client-id": "test_app_id",
        "x-client-secret": "test_secret_key",  # pragma: allowlist secret
        "x-api-version": "2025-01-01",
        "accept": "application/json",
    }
    assert expected.items() <= sent.items()


async def test_proxy_from_the_environment_is_used(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_found = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
    proxy_url, heads = await serve(answering(not_found))
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url.removesuffix("/pg"))
    monkeypatch.setenv("http_proxy", proxy_url.removesuffix("/pg"))
    async with gateway_at("http://cashfree.example/pg") as gateway:
        for _ in range(2):  # the second request uses the proxy looked up for the first
            with pytest.raises(GatewayError):
                await gateway.get_order("ord_1")
    assert [head.split(b"\r\n")[0] for head in heads] == [
        b"GET http://cashfree.example/pg/orders/ord_1 HTTP/1.1"
    ] * 2


async def test_no_proxy_names_the_host(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    url, heads = await serve(answering(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    async with gateway_at(url) as gateway:
        with pytest.raises(GatewayError):
            await gateway.get_order("ord_1")
    assert heads[0].startswith(b"GET /pg/orders/ord_1 HTTP/1.1")
