"""How `CashfreeGateway` sends one HTTP request and reads the whole answer.

aiohttp in the services: of the clients measured it costs the least CPU per request, about a
quarter of httpx's (`bench/gateway_client_bench.py`, figures in `bench/README.md`). Tests that
script Cashfree's answers give an httpx transport instead (`httpx.MockTransport`), sent through
an `httpx.AsyncClient`. Both raise only `GatewayUnavailable` (nothing was sent: cannot connect,
no free connection in time) or `GatewayTimeout` (sent, and the answer did not come or broke
off), with the library's exception as the cause.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

import aiohttp
import httpx
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from paycore.gateway.errors import GatewayTimeout, GatewayUnavailable

# At most this many connections to Cashfree per process; an idle one is closed after this long.
MAX_CONNECTIONS = 50
KEEPALIVE_SECONDS = 5.0

UNREACHABLE = "cashfree cannot be reached"
NO_ANSWER = "cashfree did not answer in time"
# Sent, then the connection broke: as unknown as a timeout.
BROKEN = "cashfree connection broke before an answer"


class Answer(NamedTuple):
    status: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


class Proxy(NamedTuple):
    url: URL | None  # None: connect directly
    auth: aiohttp.BasicAuth | None


class Transport(Protocol):
    async def send(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> Answer: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """`headers` go with every request; `timeout` (s) bounds the wait for a free connection
    and each read, `connect_timeout` (s) the TCP/TLS connect. Redirects are not followed and
    cookies are not kept (Cashfree's API authenticates by header; no call depends on an
    earlier answer). Proxies (`HTTP(S)_PROXY`, `NO_PROXY`) and CA bundles come from the
    environment, as with httpx; `.netrc` is not read."""

    def __init__(self, headers: Mapping[str, str], timeout: float, connect_timeout: float) -> None:
        self._headers = dict(headers)
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_connect=connect_timeout, sock_read=timeout
        )
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[URL, Proxy] = {}  # by origin

    def _opened(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the running event loop, and gateways are
        # built before it runs.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(
                    limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def _proxy_for(self, url: URL) -> Proxy:
        """The environment's proxy for `url`'s origin, looked up once per origin. (aiohttp's
        `trust_env` looks it up, and reads `.netrc`, in a worker thread on every request: about
        0.5 ms of CPU per request on a 2-core machine, more than the request itself.)"""
        origin = url.origin()
        proxy = self._proxies.get(origin)
        if proxy is None:
            try:
                proxy = Proxy(*get_env_proxy_for_url(url))
            except LookupError:  # none set, or NO_PROXY names the host
                proxy = Proxy(None, None)
            self._proxies[origin] = proxy
        return proxy

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> Answer:
        target = URL(url, encoded=True)  # ids in the path are percent-encoded already
        proxy = self._proxy_for(target)
        try:
            async with self._opened().request(
                method,
                target,
                headers=headers,
                data=content,
                allow_redirects=False,
                proxy=proxy.url,
                proxy_auth=proxy.auth,
            ) as response:
                return Answer(response.status, response.headers, await response.read())
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise GatewayUnavailable(UNREACHABLE) from exc
        except aiohttp.ServerTimeoutError as exc:
            raise GatewayTimeout(NO_ANSWER) from exc
        except aiohttp.ClientError as exc:
            raise GatewayTimeout(BROKEN) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class HttpxTransport:
    """An httpx transport (tests: `httpx.MockTransport`) behind an `httpx.AsyncClient`."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        headers: Mapping[str, str],
        timeout: float,
        connect_timeout: float,
    ) -> None:
        self._client = httpx.AsyncClient(
            transport=transport,
            headers=dict(headers),
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
        )

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> Answer:
        try:
            response = await self._client.request(method, url, headers=headers, content=content)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise GatewayUnavailable(UNREACHABLE) from exc
        except httpx.TimeoutException as exc:
            raise GatewayTimeout(NO_ANSWER) from exc
        except httpx.TransportError as exc:
            raise GatewayTimeout(BROKEN) from exc
        return Answer(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()
