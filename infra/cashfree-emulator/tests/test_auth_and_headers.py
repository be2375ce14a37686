import httpx
import pytest
from cashfree_emulator.testing import RunningEmulator


async def test_unknown_client_gets_401_authentication_error(emulator: RunningEmulator) -> None:
    headers = {**emulator.api_headers(), "x-client-secret": "wrong"}
    async with httpx.AsyncClient(base_url=emulator.api_url, trust_env=False) as client:
        response = await client.get("/orders/any_order", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "authentication_error"
    assert "help" not in body
    assert set(body) == {"message", "code", "type"}


async def test_missing_credentials_get_401(emulator: RunningEmulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.api_url, trust_env=False) as client:
        response = await client.get("/orders/x", headers={"x-api-version": "2025-01-01"})
    assert response.status_code == 401


async def test_missing_version_header_is_request_failed(emulator: RunningEmulator) -> None:
    headers = emulator.api_headers()
    del headers["x-api-version"]
    async with httpx.AsyncClient(base_url=emulator.api_url, trust_env=False) as client:
        response = await client.get("/orders/x", headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "message": "version is missing in header",
        "code": "request_failed",
        "type": "invalid_request_error",
        "help": response.json()["help"],
    }


async def test_unknown_version_is_version_invalid(emulator: RunningEmulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.api_url, trust_env=False) as client:
        response = await client.get("/orders/x", headers=emulator.api_headers("2022-09-01"))
    assert response.status_code == 400
    assert response.json()["code"] == "version_invalid"


@pytest.mark.parametrize("version", ["2023-08-01", "2025-01-01", "2026-01-01"])
async def test_supported_versions_are_accepted_and_echoed(
    emulator: RunningEmulator, version: str
) -> None:
    async with httpx.AsyncClient(base_url=emulator.api_url, trust_env=False) as client:
        response = await client.get("/orders/missing", headers=emulator.api_headers(version))
    assert response.status_code == 404
    assert response.json()["code"] == "order_not_found"
    assert response.headers["x-api-version"] == version


async def test_request_id_is_echoed_and_rate_headers_present(api: httpx.AsyncClient) -> None:
    response = await api.get("/orders/missing", headers={"x-request-id": "req-42"})
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["x-ratelimit-type"] == "app_id"
    assert response.headers["x-ratelimit-retry"] == "0"
    assert int(response.headers["x-ratelimit-remaining"]) < int(
        response.headers["x-ratelimit-limit"]
    )
    assert response.headers["x-idempotency-replayed"] == "false"


async def test_unknown_path_is_bad_url(api: httpx.AsyncClient) -> None:
    response = await api.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["code"] == "request_failed"


async def test_per_merchant_rate_limit_gives_429(emulator: RunningEmulator) -> None:
    await emulator.control.add_merchant("LIMITED_APP", "LIMITED_SECRET", rate_limit_per_minute=3)
    headers = {
        "x-client-id": "LIMITED_APP",
        "x-client-secret": "LIMITED_SECRET",
        "x-api-version": "2025-01-01",
    }
    async with httpx.AsyncClient(base_url=emulator.api_url, trust_env=False) as client:
        statuses = [(await client.get("/orders/x", headers=headers)) for _ in range(4)]
    assert [r.status_code for r in statuses] == [404, 404, 404, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in statuses[:3]] == ["2", "1", "0"]
    limited = statuses[3]
    assert limited.json()["type"] == "rate_limit_error"
    assert "help" not in limited.json()
    assert 1 <= int(limited.headers["x-ratelimit-retry"]) <= 59


async def test_merchants_are_isolated(emulator: RunningEmulator, new_order: object) -> None:
    await emulator.control.add_merchant("OTHER_APP", "OTHER_SECRET")
    order = await new_order()  # type: ignore[operator]
    headers = {
        "x-client-id": "OTHER_APP",
        "x-client-secret": "OTHER_SECRET",
        "x-api-version": "2025-01-01",
    }
    async with httpx.AsyncClient(base_url=emulator.api_url, trust_env=False) as client:
        response = await client.get(f"/orders/{order['order_id']}", headers=headers)
    assert response.status_code == 404
