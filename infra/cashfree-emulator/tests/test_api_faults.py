import time
from typing import Any

import httpx
import pytest
from cashfree_emulator.testing import RunningEmulator


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (500, "internal_error", "api_error"),
        (502, "bank_processing_failure", "api_error"),
        (429, "request_failed", "rate_limit_error"),
    ],
)
async def test_next_call_fails_with_the_status(
    api: httpx.AsyncClient,
    emulator: RunningEmulator,
    order_body: Any,
    status: Any,
    code: str,
    error_type: str,
) -> None:
    await emulator.control.fail_next_calls(status, operation="create_order")
    failed = await api.post("/orders", json=order_body(order_id="fault_1"))
    assert failed.status_code == status
    assert failed.json()["code"] == code
    assert failed.json()["type"] == error_type
    # Not executed: the retry creates the order.
    retried = await api.post("/orders", json=order_body(order_id="fault_1"))
    assert retried.status_code == 200


async def test_injected_429_carries_retry_header(
    api: httpx.AsyncClient, emulator: RunningEmulator
) -> None:
    await emulator.control.fail_next_calls(429, retry_after_seconds=7)
    response = await api.get("/orders/any_1")
    assert response.status_code == 429
    assert response.headers["x-ratelimit-retry"] == "7"
    assert "help" not in response.json()


async def test_operation_filter_and_count(
    api: httpx.AsyncClient, emulator: RunningEmulator
) -> None:
    await emulator.control.fail_next_calls(500, count=2, operation="get_order")
    statuses = [(await api.get("/orders/x_1")).status_code for _ in range(3)]
    assert statuses == [500, 500, 404]


async def test_hanging_call_is_not_executed(
    api: httpx.AsyncClient, emulator: RunningEmulator, order_body: Any
) -> None:
    await emulator.control.hold_next_calls("hang", 0.6, operation="create_order")
    with pytest.raises(httpx.TimeoutException):
        await api.post("/orders", json=order_body(order_id="hang_1"), timeout=0.2)
    assert (await api.get("/orders/hang_1")).status_code == 404


async def test_slow_call_is_executed_and_answered_late(
    api: httpx.AsyncClient, emulator: RunningEmulator, order_body: Any
) -> None:
    await emulator.control.hold_next_calls("slow", 0.5, operation="create_order")
    started = time.monotonic()
    answer = await api.post("/orders", json=order_body(order_id="slow_1"), timeout=5)
    assert answer.status_code == 200, answer.text
    assert time.monotonic() - started >= 0.5
    assert (await api.get("/orders/slow_1")).status_code == 200


async def test_response_lost_after_the_order_is_created(
    api: httpx.AsyncClient, emulator: RunningEmulator, order_body: Any
) -> None:
    await emulator.control.hold_next_calls("lose", 0.6, operation="create_order")
    headers = {"x-idempotency-key": "lost-1"}
    with pytest.raises(httpx.TimeoutException):
        await api.post("/orders", json=order_body(order_id="lost_1"), headers=headers, timeout=0.2)
    assert (await api.get("/orders/lost_1")).status_code == 200
    replay = await api.post("/orders", json=order_body(order_id="lost_1"), headers=headers)
    assert replay.status_code == 200
    assert replay.headers["x-idempotency-replayed"] == "true"


async def test_response_lost_connection_is_dropped(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    order = await paid_order()
    await emulator.control.hold_next_calls("lose", 0, operation="create_refund")
    with pytest.raises(httpx.TransportError):
        await api.post(
            f"/orders/{order['order_id']}/refunds",
            json={"refund_id": "rf_lost", "refund_amount": 1},
        )
    refund = await api.get(f"/orders/{order['order_id']}/refunds/rf_lost")
    assert refund.status_code == 200
    calls = await emulator.control.calls(operation="create_refund")
    assert [(c.fault, c.status) for c in calls] == [("response_lost", 200)]


async def test_calls_log_counts_gateway_calls(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    order = await paid_order()
    for _ in range(2):
        await api.post(
            f"/orders/{order['order_id']}/refunds",
            json={"refund_id": "rf_c", "refund_amount": 1},
            headers={"x-idempotency-key": "k-rf", "x-request-id": "req-1"},
        )
    calls = await emulator.control.calls(operation="create_refund")
    assert [c.replayed for c in calls] == [False, True]
    assert {c.idempotency_key for c in calls} == {"k-rf"}
    assert calls[0].request_id == "req-1"
    assert calls[0].path == f"/pg/orders/{order['order_id']}/refunds"


async def test_reset_clears_faults_and_state(
    api: httpx.AsyncClient, emulator: RunningEmulator, new_order: Any
) -> None:
    order = await new_order()
    await emulator.control.fail_next_calls(500)
    await emulator.control.reset()
    assert await emulator.control.faults() == []
    assert (await api.get(f"/orders/{order['order_id']}")).status_code == 404
    assert [c.operation for c in await emulator.control.calls()] == ["get_order"]
