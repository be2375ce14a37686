"""The edge: security headers, CORS allow-list, rate limits, and no PII in logs."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import unquote

import httpx
import pytest
from cashfree_emulator.testing import RunningEmulator
from loguru import logger
from paycore.kit.logging import JsonFormatter
from payments_api.middleware import SECURITY_HEADERS, SecurityHeadersMiddleware
from payments_api_testing import (
    CUSTOMER,
    ApiClient,
    api_client,
    api_settings,
    new_key,
    new_user,
)
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

ALLOWED_ORIGIN = "https://shop.example"


@pytest.fixture(scope="module")
async def strict(emu: RunningEmulator) -> AsyncIterator[ApiClient]:
    async with api_client(
        emu,
        cors_origins=f"{ALLOWED_ORIGIN}, https://admin.example",
        rate_limit_user_per_minute=5,
        rate_limit_ip_per_minute=8,
    ) as client:
        yield client


class TestHeaders:
    async def test_security_headers_on_every_answer(self, api: ApiClient) -> None:
        for response in (
            await api.http.get("/health"),
            await api.http.get("/api/v1/payments/history"),  # an error
        ):
            headers = response.headers
            assert headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["strict-transport-security"].startswith("max-age=")
            assert headers["x-frame-options"] == "DENY"
            assert headers["x-request-id"]

    async def test_a_header_the_answer_sets_is_kept_and_the_rest_added(self) -> None:
        async def cached(request: Request) -> Response:
            return PlainTextResponse("ok", headers={"cache-control": "max-age=60"})

        app = SecurityHeadersMiddleware(Starlette(routes=[Route("/", cached)]))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/")
        assert response.headers.get_list("cache-control") == ["max-age=60"]
        for name, value in SECURITY_HEADERS.items():
            if name != "cache-control":
                assert response.headers.get_list(name) == [value]

    async def test_cors_allows_only_listed_origins(self, strict: ApiClient) -> None:
        preflight = {
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, idempotency-key, content-type",
        }
        allowed = await strict.http.options(
            "/api/v1/payments/create", headers={"origin": ALLOWED_ORIGIN, **preflight}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        refused = await strict.http.options(
            "/api/v1/payments/create", headers={"origin": "https://evil.example", **preflight}
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers


class TestRateLimits:
    async def test_per_user_limit_answers_429_with_retry_after(self, strict: ApiClient) -> None:
        user = new_user()
        headers = strict.headers(user, "read")
        started = time.time()
        statuses = [
            (await strict.http.get("/api/v1/payments/history", headers=headers)).status_code
            for _ in range(6)
        ]
        assert statuses == [200] * 5 + [429]
        limited = await strict.http.get("/api/v1/payments/history", headers=headers)
        elapsed = time.time() - started
        assert limited.json()["error"]["code"] == "rate_limited"
        assert limited.json()["error"]["details"] == {"scope": "user"}
        # A place comes free when the first request leaves the last 60 s, not at a minute's end.
        assert 60 - elapsed <= int(limited.headers["retry-after"]) <= 60

    async def test_per_ip_limit_counts_every_caller_and_bad_tokens(self, strict: ApiClient) -> None:
        # An address of its own: the other tests' requests from the test client's stay apart.
        transport = httpx.ASGITransport(app=strict.app, client=("203.0.113.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            statuses = [
                (
                    await http.get(
                        "/api/v1/payments/history", headers={"authorization": "Bearer nonsense"}
                    )
                ).status_code
                for _ in range(10)
            ]
            last = await http.get(
                "/api/v1/payments/history", headers=strict.headers(new_user(), "read")
            )
        assert statuses == [401] * 8 + [429] * 2  # the limit is 8 per IP
        assert last.status_code == 429
        assert last.json()["error"]["details"] == {"scope": "ip"}


class TestLogs:
    async def test_no_customer_contact_or_token_in_logs(self, api: ApiClient) -> None:
        sink = io.StringIO()
        formatter = JsonFormatter("payments-api", "test")
        handler = logger.add(lambda message: sink.write(formatter.line(message.record) + "\n"))
        try:
            headers = api.headers(new_user(), key=new_key())
            response = await api.http.post(
                "/api/v1/payments/create",
                json={"amount": 100, "customer": CUSTOMER},
                headers=headers,
            )
            assert response.status_code == 201
            await api.http.post(
                "/api/v1/payments/create",
                json={"amount": 100, "customer": {**CUSTOMER, "phone": "12"}},
                headers={**headers, "idempotency-key": new_key()},
            )
        finally:
            logger.remove(handler)
        text = sink.getvalue()
        assert text, "expected some log lines"
        for line in text.splitlines():
            json.loads(line)
        assert CUSTOMER["phone"] not in text
        assert CUSTOMER["email"] not in text
        assert headers["authorization"].split()[1] not in text


@pytest.fixture(scope="module")
async def behind_ingress(emu: RunningEmulator) -> AsyncIterator[ApiClient]:
    """The app behind one trusted proxy (the test client's peer, 127.0.0.1)."""
    async with api_client(
        emu, trusted_proxies="127.0.0.1/32", rate_limit_ip_per_minute=3
    ) as client:
        yield client


async def limited_ips(api: ApiClient) -> set[str]:
    """The client addresses the IP rate limit has counted so far."""
    assert api.app.state.api.resources.redis is not None
    redis = api.app.state.api.resources.redis
    pattern = f"{api.settings.redis_prefix}ratelimit:ip:*"
    return {unquote(key.split(":")[-1]) async for key in redis.scan_iter(match=pattern)}


class TestClientAddress:
    async def test_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
        self, behind_ingress: ApiClient
    ) -> None:
        # A caller reaching the app directly (not through the trusted ingress) names any
        # address it likes; it is still counted, limited and audited as its own.
        transport = httpx.ASGITransport(app=behind_ingress.app, client=("203.0.113.5", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as direct:
            statuses = [
                (
                    await direct.get(
                        "/api/v1/payments/history",
                        headers={
                            **behind_ingress.headers(new_user(), "read"),
                            "x-forwarded-for": f"198.51.100.{n}",
                        },
                    )
                ).status_code
                for n in range(4)
            ]
        assert "203.0.113.5" in await limited_ips(behind_ingress)
        assert not {ip for ip in await limited_ips(behind_ingress) if ip.startswith("198.51.100.")}
        assert 429 not in statuses[:3]

    async def test_behind_the_ingress_each_customer_has_its_own_limit(
        self, behind_ingress: ApiClient
    ) -> None:
        # The ingress appends the address it saw; what the client put in front is ignored.
        spoofed = {"x-forwarded-for": "192.0.2.77, 198.51.100.20"}
        honest = {"x-forwarded-for": "198.51.100.21"}
        for headers in (spoofed, honest):
            response = await behind_ingress.http.get(
                "/api/v1/payments/history",
                headers={**behind_ingress.headers(new_user(), "read"), **headers},
            )
            assert response.status_code == 200
        counted = await limited_ips(behind_ingress)
        assert {"198.51.100.20", "198.51.100.21"} <= counted
        assert "192.0.2.77" not in counted
        assert "127.0.0.1" not in counted  # the ingress itself is never the customer


class TestProductionSettings:
    def test_production_refuses_the_emulators_checkout_url(self, emu: RunningEmulator) -> None:
        production = {"app_env": "production", "allow_plaintext_transport": True}
        with pytest.raises(ValidationError, match="CHECKOUT_BASE_URL must be a public https"):
            api_settings(emu, **production, payment_notify_url="https://hooks.shop.example/")
        settings = api_settings(
            emu,
            **production,
            checkout_base_url="https://pay.shop.example/checkout/",
            payment_notify_url="https://hooks.shop.example/api/v1/webhooks/cashfree",
        )
        assert settings.checkout_base_url == "https://pay.shop.example/checkout/"
