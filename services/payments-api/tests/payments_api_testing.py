"""Test helpers: the app against the real servers and the Cashfree emulator, in-process."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aio_pika
import aio_pika.abc
import aio_pika.exceptions
import httpx
import pytest
from paycore.auth.tokens import mint_token
from paycore.gateway.schemas import idempotency_key
from paycore.testing import isolated_settings, remove_traces
from payments_api.app import build_app
from payments_api.endpoints import ENDPOINTS, PLATFORM, Endpoint
from payments_api.settings import Settings
from starlette.applications import Starlette

if TYPE_CHECKING:  # the emulator is a development dependency
    from cashfree_emulator.testing import RunningEmulator

JWT_SECRET = "test-secret-" + "x" * 32
ENCRYPTION_KEY = base64.b64encode(b"k" * 32).decode()
PAY_LINK_SECRET = "pay-link-secret-" + "p" * 32


def api_settings(emu: RunningEmulator, **overrides: Any) -> Settings:
    base = isolated_settings().model_dump()
    values: dict[str, Any] = {
        **base,
        "cashfree_app_id": emu.app_id,
        "cashfree_secret_key": emu.secret_key,
        "cashfree_base_url": emu.api_url,
        "cashfree_timeout_seconds": 5.0,
        "jwt_secret": JWT_SECRET,
        "payment_encryption_key": ENCRYPTION_KEY,
        "checkout_base_url": emu.base_url + "/checkout/",
        "pay_link_secret": PAY_LINK_SECRET,
        "invoice_pay_url": "https://pay.example/pay/{pay_token}",
        # Every test request comes from one IP: keep its limits out of the way unless asked.
        "rate_limit_ip_per_minute": 100_000,
        "fraud_review_per_ip": 100_000,
        "fraud_block_per_ip": 100_000,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class ApiClient:
    http: httpx.AsyncClient
    app: Starlette
    settings: Settings

    def token(self, user: str, scopes: str = "read,write,refund", **kwargs: Any) -> str:
        return mint_token(
            JWT_SECRET,
            user,
            scopes.split(",") if scopes else [],
            issuer=self.settings.jwt_issuer,
            **kwargs,
        )

    def headers(
        self, user: str, scopes: str = "read,write,refund", key: str | None = None
    ) -> dict[str, str]:
        headers = {"authorization": f"Bearer {self.token(user, scopes)}"}
        if key is not None:
            headers["idempotency-key"] = key
        return headers

    async def create_payment(
        self, user: str, amount: int = 10_000, key: str | None = None, **body: Any
    ) -> httpx.Response:
        payload = {"amount": amount, "currency": "INR", "customer": CUSTOMER, **body}
        return await self.http.post(
            "/api/v1/payments/create",
            json=payload,
            headers=self.headers(user, key=key or new_key()),
        )

    async def verify(self, user: str, payment_id: str) -> httpx.Response:
        """`POST /payments/verify` as `user` (asks Cashfree, applies the answer)."""
        return await self.http.post(
            "/api/v1/payments/verify", json={"payment_id": payment_id}, headers=self.headers(user)
        )


CUSTOMER = {"phone": "9876543210", "name": "Asha Rao", "email": "asha@example.com"}


def new_key() -> str:
    return uuid.uuid4().hex


def new_user() -> str:
    return "usr_" + uuid.uuid4().hex[:12]


ROUTES = [
    (endpoint, re.compile(re.sub(r"{\w+}", "[^/]+", endpoint.path) + "$")) for endpoint in ENDPOINTS
]
PLATFORM_CODES = {error.code for error in PLATFORM}


def endpoint_of(method: str, path: str) -> Endpoint | None:
    for endpoint, pattern in ROUTES:
        if endpoint.method == method and pattern.match(path):
            return endpoint
    return None


async def answer_is_declared(response: httpx.Response) -> None:
    """Every answer the API gives in any test is what its endpoint declares (the declarations
    feed /openapi.json and API.md, so every test checks them): a success's `data` is exactly
    its response model (nothing more, nothing less, the same values), an error's code is one
    the endpoint declares."""
    endpoint = endpoint_of(response.request.method, response.request.url.path)
    await response.aread()
    try:
        body = response.json()
    except ValueError:
        return  # not JSON (e.g. /metrics)
    where = f"{response.request.method} {response.request.url.path}"
    if response.status_code < 400:
        if endpoint is not None and response.status_code in (200, 201, 202):
            data = body["data"]
            shaped = endpoint.response.model_validate(data).model_dump(mode="json")
            assert shaped == data, f"{where} answered other than {endpoint.response.__name__}"
        return
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return  # not our error body (e.g. a health check's)
    code = body["error"]["code"]
    declared = set(PLATFORM_CODES)
    if endpoint is not None:
        declared |= {error.code for error in endpoint.refusals()}
    assert code in declared, f"{where} answered {code}, which its endpoint does not declare"


@pytest.fixture(scope="session")
async def emu() -> AsyncIterator[RunningEmulator]:
    """The Cashfree emulator (a real HTTP server) for the session; conftests import this."""
    from cashfree_emulator.testing import running_emulator

    async with running_emulator(refund_delay_seconds=0.05) as running:
        yield running


@pytest.fixture(scope="module")
async def api(emu: RunningEmulator) -> AsyncIterator[ApiClient]:
    """One app per test module (own database, queues and Redis prefix); tests use their own
    users, so they don't see each other's data."""
    async with api_client(emu) as client:
        yield client


@asynccontextmanager
async def api_client(emu: RunningEmulator, **overrides: Any) -> AsyncIterator[ApiClient]:
    settings = api_settings(emu, **overrides)
    app = build_app(settings)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://testserver",
                event_hooks={"response": [answer_is_declared]},
            ) as http,
        ):
            yield ApiClient(http, app, settings)
    finally:
        await remove_traces(settings)  # its database, the exchanges and the event archive


@asynccontextmanager
async def bound_queue(
    settings: Settings, exchange: str, routing_key: str = "#"
) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """An exclusive queue bound to one of the run's exchanges, to watch what is published."""
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(f"{settings.broker_prefix}{exchange}", routing_key=routing_key)
        yield queue


async def drain(
    queue: aio_pika.abc.AbstractQueue, settle_seconds: float = 0.5
) -> list[dict[str, Any]]:
    """Every message waiting now or arriving until none came for `settle_seconds`."""
    bodies: list[dict[str, Any]] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < settle_seconds:
        message = await queue.get(fail=False)
        if message is None:
            await asyncio.sleep(0.02)
            continue
        await message.ack()
        bodies.append(json.loads(message.body))
        quiet_since = time.monotonic()
    return bodies


async def create_order_calls(emu: RunningEmulator, order_id: str) -> list[Any]:
    """The emulator's record of create-order calls for our order id (executed or replayed)."""
    key = idempotency_key("create_order", order_id)
    calls = await emu.control.calls(operation="create_order")
    return [call for call in calls if call.idempotency_key == key]
