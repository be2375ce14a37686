import asyncio
from typing import Any

import httpx
import pytest
from cashfree_emulator.control import EmulatorControlError
from cashfree_emulator.testing import RunningEmulator


async def _refund(api: httpx.AsyncClient, order_id: str, **body: Any) -> httpx.Response:
    return await api.post(f"/orders/{order_id}/refunds", json=body)


async def _wait_status(api: httpx.AsyncClient, order_id: str, refund_id: str) -> str:
    await asyncio.sleep(0.2)
    refund = (await api.get(f"/orders/{order_id}/refunds/{refund_id}")).json()
    return str(refund["refund_status"])


async def test_refund_goes_pending_then_success(api: httpx.AsyncClient, paid_order: Any) -> None:
    order = await paid_order()
    response = await _refund(api, order["order_id"], refund_id="rf_1", refund_amount=50.5)
    assert response.status_code == 200
    refund = response.json()
    assert refund["refund_status"] == "PENDING"
    assert refund["entity"] == "refund"
    assert isinstance(refund["cf_refund_id"], str)
    assert refund["refund_speed"] == {
        "requested": "STANDARD",
        "accepted": "STANDARD",
        "processed": None,
        "message": None,
    }
    assert b'"refund_amount":50.50' in response.content
    await asyncio.sleep(0.2)
    done = (await api.get(f"/orders/{order['order_id']}/refunds/rf_1")).json()
    assert done["refund_status"] == "SUCCESS"
    assert done["refund_arn"]
    assert done["processed_at"]
    listed = (await api.get(f"/orders/{order['order_id']}/refunds")).json()
    assert [r["refund_id"] for r in listed] == ["rf_1"]


async def test_refund_on_unpaid_order_is_409(api: httpx.AsyncClient, new_order: Any) -> None:
    order = await new_order()
    response = await _refund(api, order["order_id"], refund_id="rf_1", refund_amount=1)
    assert response.status_code == 409
    assert response.json()["code"] == "refund_not_allowed"


async def test_refund_of_unknown_order_is_404(api: httpx.AsyncClient) -> None:
    response = await _refund(api, "nope_1", refund_id="rf_1", refund_amount=1)
    assert response.json()["code"] == "order_not_found"


async def test_refund_over_what_is_left_is_refund_amount_invalid(
    api: httpx.AsyncClient, paid_order: Any
) -> None:
    order = await paid_order(order_amount=100)
    assert (await _refund(api, order["order_id"], refund_id="rf_a", refund_amount=60)).is_success
    over = await _refund(api, order["order_id"], refund_id="rf_b", refund_amount=40.01)
    assert over.status_code == 400
    assert over.json()["code"] == "refund_amount_invalid"
    assert (await _refund(api, order["order_id"], refund_id="rf_c", refund_amount=40)).is_success
    full = await _refund(api, order["order_id"], refund_id="rf_d", refund_amount=1)
    assert full.status_code == 409
    assert full.json()["code"] == "refund_not_allowed"


async def test_failed_refunds_free_the_amount_again(
    api: httpx.AsyncClient, paid_order: Any
) -> None:
    order = await paid_order(order_amount=100)
    await _refund(api, order["order_id"], refund_id="rf_f", refund_amount=100, refund_note="FAILED")
    assert await _wait_status(api, order["order_id"], "rf_f") == "FAILED"
    again = await _refund(api, order["order_id"], refund_id="rf_g", refund_amount=100)
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("refund_amount", 0, "refund_amount_invalid"),
        ("refund_amount", 1.234, "refund_amount_invalid"),
        ("refund_amount", "1", "refund_amount_invalid"),
        ("refund_id", "ab", "refund_id_invalid"),
        ("refund_id", "r" * 41, "refund_id_invalid"),
        ("refund_id", None, "refund_id_missing"),
        ("refund_note", "ab", "refund_note_invalid"),
        ("refund_speed", "FAST", "refund_speed_invalid"),
    ],
)
async def test_invalid_refund_fields(
    api: httpx.AsyncClient, paid_order: Any, field: str, value: Any, code: str
) -> None:
    order = await paid_order()
    body: dict[str, Any] = {"refund_id": "rf_1", "refund_amount": 10}
    if value is None:
        body.pop(field)
    else:
        body[field] = value
    response = await _refund(api, order["order_id"], **body)
    assert response.status_code == 400
    assert response.json()["code"] == code


async def test_same_refund_id_same_body_returns_the_existing_refund(
    api: httpx.AsyncClient, paid_order: Any
) -> None:
    order = await paid_order()
    first = (await _refund(api, order["order_id"], refund_id="rf_1", refund_amount=10)).json()
    second = await _refund(api, order["order_id"], refund_id="rf_1", refund_amount=10)
    assert second.status_code == 200
    assert second.json()["cf_refund_id"] == first["cf_refund_id"]
    other = await _refund(api, order["order_id"], refund_id="rf_1", refund_amount=11)
    assert other.status_code == 400
    assert other.json()["code"] == "refund_id_already_exists"


@pytest.mark.parametrize(
    ("note", "status"),
    [("SUCCESS", "SUCCESS"), ("FAILED", "FAILED"), ("PENDING", "PENDING"), ("ACTIVE", "PENDING")],
)
async def test_sandbox_refund_note_convention(
    api: httpx.AsyncClient, paid_order: Any, note: str, status: str
) -> None:
    order = await paid_order()
    await _refund(api, order["order_id"], refund_id="rf_n", refund_amount=1, refund_note=note)
    assert await _wait_status(api, order["order_id"], "rf_n") == status


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("stays_pending", "PENDING"),
        ("onhold", "ONHOLD"),
        ("cancelled", "CANCELLED"),
        ("failed", "FAILED"),
    ],
)
async def test_refund_faults(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any, fault: Any, status: str
) -> None:
    order = await paid_order()
    await emulator.control.refund_fault(fault)
    await _refund(api, order["order_id"], refund_id="rf_x", refund_amount=1)
    assert await _wait_status(api, order["order_id"], "rf_x") == status
    await _refund(api, order["order_id"], refund_id="rf_y", refund_amount=1)
    assert await _wait_status(api, order["order_id"], "rf_y") == "SUCCESS"


async def test_onhold_refund_can_be_resolved_later(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    order = await paid_order()
    await emulator.control.refund_fault("onhold")
    await _refund(api, order["order_id"], refund_id="rf_h", refund_amount=1)
    assert await _wait_status(api, order["order_id"], "rf_h") == "ONHOLD"
    resolved = await emulator.control.resolve_refund(order["order_id"], "rf_h", "SUCCESS")
    assert resolved["refund_status"] == "SUCCESS"


async def test_unknown_refund_is_404(api: httpx.AsyncClient, paid_order: Any) -> None:
    order = await paid_order()
    response = await api.get(f"/orders/{order['order_id']}/refunds/rf_nope")
    assert response.status_code == 404
    assert response.json()["code"] == "refund_not_found"


async def test_refund_delay_is_configurable(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    await emulator.control.configure(refund_delay_seconds=0.5)
    order = await paid_order()
    await _refund(api, order["order_id"], refund_id="rf_slow", refund_amount=1)
    assert await _wait_status(api, order["order_id"], "rf_slow") == "PENDING"
    await asyncio.sleep(0.4)
    refund = (await api.get(f"/orders/{order['order_id']}/refunds/rf_slow")).json()
    assert refund["refund_status"] == "SUCCESS"


async def test_dashboard_refund_counts_against_the_limit(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    order = await paid_order(order_amount=100)
    refund = await emulator.control.dashboard_refund(order["order_id"], "100.00")
    assert refund["refund_type"] == "MERCHANT_INITIATED"
    response = await _refund(api, order["order_id"], refund_id="rf_1", refund_amount=1)
    assert response.status_code == 409


async def test_concurrent_refunds_never_exceed_the_payment(
    api: httpx.AsyncClient, paid_order: Any
) -> None:
    order = await paid_order(order_amount=100)
    responses = await asyncio.gather(
        *(
            _refund(api, order["order_id"], refund_id=f"rf_conc_{i}", refund_amount=30)
            for i in range(5)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 400, 400]


async def test_a_failed_refund_turns_success_only_when_told_to_contradict(
    emulator: RunningEmulator, api: httpx.AsyncClient, paid_order: Any
) -> None:
    order_id = (await paid_order())["order_id"]
    await emulator.control.dashboard_refund(
        order_id, "1.00", refund_id="r_contra", resolve_to="FAILED"
    )
    assert await _wait_status(api, order_id, "r_contra") == "FAILED"
    with pytest.raises(EmulatorControlError):
        await emulator.control.resolve_refund(order_id, "r_contra", "SUCCESS")
    moved = await emulator.control.resolve_refund(order_id, "r_contra", "SUCCESS", contradict=True)
    assert moved["refund_status"] == "SUCCESS"


async def test_a_refund_lookup_can_lag_its_create(
    emulator: RunningEmulator, api: httpx.AsyncClient, paid_order: Any
) -> None:
    order_id = (await paid_order())["order_id"]
    await emulator.control.configure(refund_lookup_lag_seconds=0.3)
    response = await _refund(api, order_id, refund_id="r_lag", refund_amount=1)
    assert response.status_code == 200
    early = await api.get(f"/orders/{order_id}/refunds/r_lag")
    assert early.status_code == 404
    await asyncio.sleep(0.35)
    later = await api.get(f"/orders/{order_id}/refunds/r_lag")
    assert later.status_code == 200
