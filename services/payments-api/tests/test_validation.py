"""Every refused request has a stable code: validation, auth, scopes, limits."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from payments_api_testing import CUSTOMER, JWT_SECRET, ApiClient, new_key, new_user

CREATE = "/api/v1/payments/create"


def valid(**overrides: Any) -> dict[str, Any]:
    return {"amount": 1_000, "currency": "INR", "customer": dict(CUSTOMER), **overrides}


async def post_create(api: ApiClient, body: Any, **headers: str) -> Any:
    return await api.http.post(
        CREATE, json=body, headers={**api.headers(new_user(), key=new_key()), **headers}
    )


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["requestId"] == response.headers["x-request-id"]
    return dict(body["error"])


def assert_error(response: Any, status: int, code: str) -> None:
    """The response is the error envelope with this HTTP status and error code."""
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code


class TestBody:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (valid(amount=0), "amount"),
            (valid(amount=-5), "amount"),
            (valid(amount="1000"), "amount"),
            (valid(amount=10.5), "amount"),
            (valid(currency="inr"), "currency"),
            (valid(customer={"phone": "123"}), "customer.phone"),
            (valid(customer={"phone": "9876543210", "email": "not-an-email"}), "customer.email"),
            (valid(customer={"phone": "9876543210", "name": "A"}), "customer.name"),
            (valid(customer={}), "customer.phone"),
            (valid(metadata={"$where": "x"}), "metadata.$where.[key]"),
            (valid(metadata={"a.b": "x"}), "metadata.a.b.[key]"),
            (valid(return_url="javascript:alert(1)"), "return_url"),
            (valid(unexpected="field"), "unexpected"),
            (valid(customer={**CUSTOMER, "extra": 1}), "customer.extra"),
            ({"currency": "INR", "customer": CUSTOMER}, "amount"),
        ],
    )
    async def test_invalid_field_is_named(self, api: ApiClient, body: Any, field: str) -> None:
        response = await post_create(api, body)
        assert response.status_code == 400, response.text
        error = error_of(response)
        assert error["code"] == "validation_error"
        assert field in [problem["field"] for problem in error["details"]["errors"]]

    async def test_values_are_not_echoed_back(self, api: ApiClient) -> None:
        response = await post_create(api, valid(customer={"phone": "12345SECRET"}))
        assert "12345SECRET" not in response.text

    async def test_amount_above_the_maximum(self, api: ApiClient) -> None:
        response = await post_create(api, valid(amount=api.settings.payment_max_amount + 1))
        assert_error(response, 400, "amount_too_large")

    async def test_currency_outside_the_allow_list(self, api: ApiClient) -> None:
        response = await post_create(api, valid(currency="USD"))
        assert_error(response, 400, "currency_not_allowed")

    async def test_invalid_json(self, api: ApiClient) -> None:
        response = await api.http.post(
            CREATE,
            content=b'{"amount": ',
            headers={**api.headers(new_user(), key=new_key()), "content-type": "application/json"},
        )
        assert_error(response, 400, "invalid_json")

    async def test_not_an_object(self, api: ApiClient) -> None:
        response = await post_create(api, [1, 2])
        assert error_of(response)["code"] == "validation_error"

    async def test_empty_body(self, api: ApiClient) -> None:
        response = await api.http.post(CREATE, headers=api.headers(new_user(), key=new_key()))
        assert_error(response, 400, "validation_error")

    async def test_not_json(self, api: ApiClient) -> None:
        response = await api.http.post(
            CREATE,
            content=b"amount=1",
            headers={
                **api.headers(new_user(), key=new_key()),
                "content-type": "application/x-www-form-urlencoded",
            },
        )
        assert_error(response, 415, "unsupported_media_type")

    async def test_body_over_the_limit(self, api: ApiClient) -> None:
        big = valid(metadata={f"k{i}": "x" * 200 for i in range(20)}, padding="y" * 70_000)
        response = await post_create(api, big)
        assert_error(response, 413, "payload_too_large")

    async def test_chunked_body_over_the_limit(self, api: ApiClient) -> None:
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(20):
                yield b" " * 8_192

        response = await api.http.post(
            CREATE,
            content=chunks(),
            headers={**api.headers(new_user(), key=new_key()), "content-type": "application/json"},
        )
        assert_error(response, 413, "payload_too_large")

    async def test_verify_needs_exactly_one_id(self, api: ApiClient) -> None:
        response = await api.http.post(
            "/api/v1/payments/verify", json={}, headers=api.headers(new_user())
        )
        assert_error(response, 400, "validation_error")

    @pytest.mark.parametrize(
        "query",
        ["status=NOPE", "limit=0", "limit=1000", "limit=x", "from=yesterday", "cursor=abc", "x=1"],
    )
    async def test_history_parameters(self, api: ApiClient, query: str) -> None:
        response = await api.http.get(
            f"/api/v1/payments/history?{query}", headers=api.headers(new_user(), "read")
        )
        assert_error(response, 400, "validation_error")


class TestIdempotencyHeader:
    async def test_missing(self, api: ApiClient) -> None:
        response = await api.http.post(CREATE, json=valid(), headers=api.headers(new_user()))
        assert_error(response, 400, "idempotency_key_required")

    async def test_invalid(self, api: ApiClient) -> None:
        response = await post_create(api, valid(), **{"idempotency-key": "has spaces!"})
        assert_error(response, 400, "idempotency_key_invalid")


class TestAuth:
    async def test_no_token(self, api: ApiClient) -> None:
        response = await api.http.get("/api/v1/payments/history")
        assert_error(response, 401, "invalid_token")

    @pytest.mark.parametrize(
        "token",
        [
            "not-a-jwt",
            jwt.encode({"sub": "u", "exp": time.time() + 86_400, "iss": "paycore"}, "x" * 40),
            jwt.encode({"sub": "u", "exp": time.time() + 86_400, "iss": "someone"}, JWT_SECRET),
            jwt.encode({"sub": "u", "iss": "paycore"}, JWT_SECRET),
            jwt.encode(
                {"sub": "$ne", "exp": time.time() + 86_400, "iss": "paycore", "scope": "read"},
                JWT_SECRET,
            ),
            jwt.encode(
                {"sub": "u", "exp": time.time() + 86_400, "iss": "paycore"}, None, algorithm="none"
            ),
        ],
    )
    async def test_bad_tokens(self, api: ApiClient, token: str) -> None:
        response = await api.http.get(
            "/api/v1/payments/history", headers={"authorization": f"Bearer {token}"}
        )
        assert_error(response, 401, "invalid_token")

    async def test_expired_token(self, api: ApiClient) -> None:
        token = api.token("usr_x", "read", ttl_seconds=-120)
        response = await api.http.get(
            "/api/v1/payments/history", headers={"authorization": f"Bearer {token}"}
        )
        assert_error(response, 401, "token_expired")

    @pytest.mark.parametrize(
        ("method", "path", "scopes"),
        [
            ("POST", CREATE, "read"),
            ("GET", "/api/v1/payments/history", "write"),
            ("POST", "/api/v1/refunds/initiate", "read,write"),
            ("POST", "/api/v1/invoices", "read"),
        ],
    )
    async def test_missing_scope(self, api: ApiClient, method: str, path: str, scopes: str) -> None:
        response = await api.http.request(
            method, path, json=valid(), headers=api.headers(new_user(), scopes, key=new_key())
        )
        assert_error(response, 403, "insufficient_scope")


class TestRouting:
    async def test_unknown_route(self, api: ApiClient) -> None:
        response = await api.http.get("/api/v1/nothing-here")
        assert_error(response, 404, "not_found")

    async def test_wrong_method(self, api: ApiClient) -> None:
        response = await api.http.delete(CREATE)
        assert_error(response, 405, "method_not_allowed")
