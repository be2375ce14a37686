"""Test helpers: the app against the real servers and the Cashfree emulator, in-process."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from paycore.auth.tokens import mint_token
from paycore.kit.mongo import mongo_client
from paycore.testing import isolated_settings
from starlette.applications import Starlette

from payments_api.app import build_app
from payments_api.settings import Settings

if TYPE_CHECKING:  # the emulator is a development dependency
    from cashfree_emulator.testing import RunningEmulator

JWT_SECRET = "test-secret-" + "x" * 32
ENCRYPTION_KEY = base64.b64encode(b"k" * 32).decode()


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


CUSTOMER = {"phone": "9876543210", "name": "Asha Rao", "email": "asha@example.com"}


def new_key() -> str:
    return uuid.uuid4().hex


def new_user() -> str:
    return "usr_" + uuid.uuid4().hex[:12]


@asynccontextmanager
async def api_client(emu: RunningEmulator, **overrides: Any) -> AsyncIterator[ApiClient]:
    settings = api_settings(emu, **overrides)
    app = build_app(settings)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as http,
        ):
            yield ApiClient(http, app, settings)
    finally:
        client = mongo_client(settings)
        await client.drop_database(settings.mongo_db)
        await client.close()
