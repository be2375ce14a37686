import re
from typing import Any

import httpx
import pytest


def order_with_amount(amount: bytes) -> bytes:
    """An order body written by hand, so the amount's number text reaches the emulator as is."""
    return (
        b'{"order_amount": ' + amount + b', "order_currency": "INR", '
        b'"customer_details": {"customer_id": "cus_1", "customer_phone": "9876543210"}}'
    )


async def test_create_order_returns_order_entity(api: httpx.AsyncClient, order_body: Any) -> None:
    response = await api.post(
        "/orders",
        json=order_body(order_id="ord_1", order_meta={"return_url": "https://shop/return"}),
    )
    assert response.status_code == 200
    order = response.json()
    assert order["order_id"] == "ord_1"
    assert order["entity"] == "order"
    assert order["order_status"] == "ACTIVE"
    assert isinstance(order["cf_order_id"], str)
    assert order["payment_session_id"].startswith("session_")
    assert order["created_at"].endswith("+05:30")
    assert order["order_expiry_time"].endswith("+05:30")
    assert order["customer_details"]["customer_id"] == "cus_123"
    assert order["order_meta"]["return_url"] == "https://shop/return"


async def test_order_amount_keeps_its_two_decimals_on_the_wire(
    api: httpx.AsyncClient, order_body: Any
) -> None:
    response = await api.post("/orders", content=order_with_amount(b"10.10"))
    assert b'"order_amount":10.10' in response.content


async def test_order_id_is_generated_when_omitted(api: httpx.AsyncClient, order_body: Any) -> None:
    order = (await api.post("/orders", json=order_body())).json()
    assert re.fullmatch(r"order_[A-Za-z0-9]+", order["order_id"])


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("order_id", "ab", "order_id_invalid"),
        ("order_id", "x" * 46, "order_id_invalid"),
        ("order_id", "bad id!", "order_id_invalid"),
        ("order_amount", 0.99, "order_amount_invalid"),
        ("order_amount", 10.001, "order_amount_invalid"),
        ("order_amount", "10.00", "order_amount_invalid"),
        ("order_amount", True, "order_amount_invalid"),
        ("order_amount", None, "order_amount_missing"),
        ("order_currency", "XYZ", "order_currency_invalid"),
        ("order_currency", None, "order_currency_missing"),
        ("customer_details", None, "customer_details_missing"),
        ("customer_details", {"customer_phone": "9876543210"}, "customer_id_missing"),
        (
            "customer_details",
            {"customer_id": "c1", "customer_phone": "9876543210"},
            "customer_id_invalid",
        ),
        (
            "customer_details",
            {"customer_id": "cus_1", "customer_phone": "12345"},
            "customer_phone_invalid",
        ),
        (
            "customer_details",
            {"customer_id": "cus_1", "customer_phone": "9876543210", "customer_email": "nope"},
            "customer_email_invalid",
        ),
        ("order_meta", {"return_url": "not a url"}, "return_url_value_invalid"),
        ("order_meta", {"notify_url": "ftp://x"}, "notify_url_invalid"),
        ("order_note", "ab", "order_note_invalid"),
        ("order_expiry_time", "2001-01-01T00:00:00+05:30", "order_expiry_time_invalid"),
        ("order_expiry_time", "tomorrow", "order_expiry_time_invalid"),
    ],
)
async def test_invalid_order_fields_are_rejected(
    api: httpx.AsyncClient, order_body: Any, field: str, value: Any, code: str
) -> None:
    body = order_body()
    if value is None:
        body.pop(field, None)
    else:
        body[field] = value
    response = await api.post("/orders", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    assert set(error) == {"message", "code", "type", "help"}


async def test_amount_validation_uses_the_exact_number_text(
    api: httpx.AsyncClient, order_body: Any
) -> None:
    # 1.005 is not representable as a float; the text has three decimals and is refused.
    raw = order_with_amount(b"1.005")
    assert (await api.post("/orders", content=raw)).json()["code"] == "order_amount_invalid"


async def test_international_phone_is_accepted(api: httpx.AsyncClient, order_body: Any) -> None:
    body = order_body(customer_details={"customer_id": "cus_1", "customer_phone": "+14155552671"})
    assert (await api.post("/orders", json=body)).status_code == 200


async def test_duplicate_order_id_is_409(api: httpx.AsyncClient, order_body: Any) -> None:
    assert (await api.post("/orders", json=order_body(order_id="dup_1"))).status_code == 200
    response = await api.post("/orders", json=order_body(order_id="dup_1"))
    assert response.status_code == 409
    assert response.json()["code"] == "order_already_exists"
    assert response.json()["type"] == "invalid_request_error"


async def test_get_order_and_unknown_order(api: httpx.AsyncClient, order_body: Any) -> None:
    created = (await api.post("/orders", json=order_body(order_id="get_1"))).json()
    assert (await api.get("/orders/get_1")).json() == created
    missing = await api.get("/orders/nope_1")
    assert missing.status_code == 404
    assert missing.json()["code"] == "order_not_found"


async def test_terminate_order(api: httpx.AsyncClient, order_body: Any) -> None:
    await api.post("/orders", json=order_body(order_id="term_1"))
    response = await api.patch("/orders/term_1", json={"order_status": "TERMINATED"})
    assert response.status_code == 200
    assert response.json()["order_status"] == "TERMINATED"
    bad = await api.patch("/orders/term_1", json={"order_status": "PAID"})
    assert bad.status_code == 400


async def test_paid_order_cannot_be_terminated(
    api: httpx.AsyncClient, order_body: Any, paid_order: Any
) -> None:
    order = await paid_order()
    response = await api.patch(f"/orders/{order['order_id']}", json={"order_status": "TERMINATED"})
    assert response.status_code == 409
    assert (await api.get(f"/orders/{order['order_id']}")).json()["order_status"] == "PAID"


class TestIdempotencyKey:
    async def test_same_key_same_body_replays_the_first_response(
        self, api: httpx.AsyncClient, order_body: Any
    ) -> None:
        headers = {"x-idempotency-key": "6f1c5a8e-0000-4000-8000-000000000001"}
        first = await api.post("/orders", json=order_body(), headers=headers)
        second = await api.post("/orders", json=order_body(), headers=headers)
        assert first.status_code == second.status_code == 200
        assert second.content == first.content
        assert first.headers["x-idempotency-replayed"] == "false"
        assert second.headers["x-idempotency-replayed"] == "true"
        assert second.headers["x-idempotency-key"] == headers["x-idempotency-key"]

    async def test_same_key_other_body_is_422(
        self, api: httpx.AsyncClient, order_body: Any
    ) -> None:
        headers = {"x-idempotency-key": "key-2"}
        await api.post("/orders", json=order_body(), headers=headers)
        response = await api.post("/orders", json=order_body(order_amount=5), headers=headers)
        assert response.status_code == 422
        assert response.json()["type"] == "idempotency_error"

    async def test_keys_are_per_merchant(
        self, api: httpx.AsyncClient, order_body: Any, emulator: Any
    ) -> None:
        await emulator.control.add_merchant("APP_TWO", "SECRET_TWO")
        headers = {"x-idempotency-key": "shared-key"}
        await api.post("/orders", json=order_body(), headers=headers)
        other = {
            **headers,
            "x-client-id": "APP_TWO",
            "x-client-secret": "SECRET_TWO",
        }
        response = await api.post("/orders", json=order_body(order_amount=5), headers=other)
        assert response.status_code == 200
        assert response.headers["x-idempotency-replayed"] == "false"

    async def test_replayed_errors_are_replayed_too(
        self, api: httpx.AsyncClient, order_body: Any
    ) -> None:
        await api.post("/orders", json=order_body(order_id="idem_dup"))
        headers = {"x-idempotency-key": "key-3"}
        first = await api.post("/orders", json=order_body(order_id="idem_dup"), headers=headers)
        second = await api.post("/orders", json=order_body(order_id="idem_dup"), headers=headers)
        assert first.status_code == second.status_code == 409
        assert second.headers["x-idempotency-replayed"] == "true"
