"""Test helpers: the web pages in-process, talking to the payments-api app in-process."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from cashfree_emulator.testing import RunningEmulator
from paycore_web.app import build_app
from paycore_web.settings import Settings
from payments_api_testing import ApiClient

ORIGIN = "http://testserver"
SESSION_SECRET = "web-session-secret-" + "s" * 32


def web_settings(emu: RunningEmulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "web_public_url": ORIGIN,
        "web_session_secret": SESSION_SECRET,
        "checkout_origins": emu.base_url,
        "prometheus_enabled": False,
        **overrides,
    }
    return Settings(**values)


@dataclass
class WebClient:
    http: httpx.AsyncClient
    settings: Settings

    async def sign_in(self, token: str) -> httpx.Response:
        page = await self.http.get("/console/sign-in")
        return await self.http.post(
            "/console/sign-in",
            data={"csrf_token": csrf_of(page.text), "token": token},
            headers={"origin": ORIGIN},
        )

    async def post(
        self, path: str, data: dict[str, Any], page: str | None = None
    ) -> httpx.Response:
        """A form post as the browser sends it: same origin, with the page's CSRF token."""
        if page is not None:
            data = {"csrf_token": csrf_of(page), **data}
        return await self.http.post(path, data=data, headers={"origin": ORIGIN})

    async def refund(
        self, payment_id: str, amount: str, page: str, key: str | None = None
    ) -> httpx.Response:
        """The payment page's refund form sent from `page`, with its form key unless `key`."""
        return await self.post(
            f"/console/payments/{payment_id}/refunds",
            {"idempotency_key": key or form_key_of(page), "amount": amount},
            page=page,
        )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def form_key_of(html: str) -> str:
    found = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', html)
    assert found, "no idempotency key on the page"
    return found.group(1)


@asynccontextmanager
async def web_client(
    api: ApiClient, emu: RunningEmulator, **overrides: Any
) -> AsyncIterator[WebClient]:
    settings = web_settings(emu, **overrides)
    app = build_app(settings, transport=httpx.ASGITransport(app=api.app))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http,
    ):
        yield WebClient(http, settings)
