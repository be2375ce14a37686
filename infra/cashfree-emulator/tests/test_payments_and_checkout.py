import asyncio
from typing import Any

import httpx
import pytest
from cashfree_emulator.control import EmulatorControlError
from cashfree_emulator.testing import RunningEmulator


async def test_successful_payment_marks_order_paid(
    api: httpx.AsyncClient, emulator: RunningEmulator, new_order: Any
) -> None:
    order = await new_order()
    payment = await emulator.control.pay(order["payment_session_id"], payment_method="card")
    assert payment["payment_status"] == "SUCCESS"
    assert payment["is_captured"] is True
    assert isinstance(payment["cf_payment_id"], str)
    assert payment["payment_group"] == "credit_card"
    assert list(payment["payment_method"]) == ["card"]
    assert payment["bank_reference"]
    assert (await api.get(f"/orders/{order['order_id']}")).json()["order_status"] == "PAID"
    payments = (await api.get(f"/orders/{order['order_id']}/payments")).json()
    assert [p["cf_payment_id"] for p in payments] == [payment["cf_payment_id"]]
    one = await api.get(f"/orders/{order['order_id']}/payments/{payment['cf_payment_id']}")
    assert one.json() == payments[0]


async def test_failed_payment_has_error_details_and_order_stays_active(
    api: httpx.AsyncClient, emulator: RunningEmulator, new_order: Any
) -> None:
    order = await new_order()
    payment = await emulator.control.pay(
        order["payment_session_id"], "FAILED", failure_reason="bank_rejected"
    )
    assert payment["payment_status"] == "FAILED"
    assert payment["error_details"]["error_reason"] == "bank_rejected"
    assert payment["error_details"]["error_source"] == "bank"
    assert (await api.get(f"/orders/{order['order_id']}")).json()["order_status"] == "ACTIVE"


async def test_user_dropped_then_retry_succeeds(
    api: httpx.AsyncClient, emulator: RunningEmulator, new_order: Any
) -> None:
    order = await new_order()
    dropped = await emulator.control.pay(order["payment_session_id"], "USER_DROPPED")
    assert dropped["payment_status"] == "USER_DROPPED"
    await emulator.control.pay(order["payment_session_id"], payment_method="netbanking")
    payments = (await api.get(f"/orders/{order['order_id']}/payments")).json()
    assert [p["payment_status"] for p in payments] == ["USER_DROPPED", "SUCCESS"]


async def test_delayed_payment_is_pending_first(
    api: httpx.AsyncClient, emulator: RunningEmulator, new_order: Any
) -> None:
    order = await new_order()
    payment = await emulator.control.pay(order["payment_session_id"], delay_ms=100)
    assert payment["payment_status"] == "PENDING"
    path = f"/orders/{order['order_id']}/payments/{payment['cf_payment_id']}"
    await asyncio.sleep(0.25)
    assert (await api.get(path)).json()["payment_status"] == "SUCCESS"


async def test_paid_order_cannot_be_paid_again(emulator: RunningEmulator, paid_order: Any) -> None:
    order = await paid_order()
    with pytest.raises(EmulatorControlError) as raised:
        await emulator.control.pay(order["payment_session_id"])
    assert raised.value.status == 409


async def test_unknown_payment_is_404(api: httpx.AsyncClient, new_order: Any) -> None:
    order = await new_order()
    response = await api.get(f"/orders/{order['order_id']}/payments/999")
    assert response.status_code == 404
    assert response.json()["code"] == "payment_not_found"


async def test_payment_amount_can_differ_from_order(
    emulator: RunningEmulator, new_order: Any
) -> None:
    order = await new_order(order_amount=100)
    payment = await emulator.control.pay(order["payment_session_id"], amount="99.50")
    assert str(payment["payment_amount"]) == "99.50"
    assert str(payment["order_amount"]) == "100.00"


class TestCheckoutPage:
    async def test_page_offers_the_outcomes(
        self, emulator: RunningEmulator, new_order: Any
    ) -> None:
        order = await new_order()
        async with httpx.AsyncClient(base_url=emulator.base_url, trust_env=False) as browser:
            page = await browser.get(f"/checkout/{order['payment_session_id']}")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        for outcome in ("SUCCESS", "FAILED", "USER_DROPPED"):
            assert f'value="{outcome}"' in page.text

    async def test_form_post_pays_and_redirects_to_return_url(
        self, api: httpx.AsyncClient, emulator: RunningEmulator, new_order: Any
    ) -> None:
        order = await new_order(order_meta={"return_url": "https://shop.test/done?x=1"})
        async with httpx.AsyncClient(base_url=emulator.base_url, trust_env=False) as browser:
            response = await browser.post(
                f"/checkout/{order['payment_session_id']}",
                data={"outcome": "SUCCESS", "payment_method": "upi"},
            )
        assert response.status_code == 303
        assert response.headers["location"] == (
            f"https://shop.test/done?x=1&order_id={order['order_id']}"
        )
        assert (await api.get(f"/orders/{order['order_id']}")).json()["order_status"] == "PAID"

    async def test_form_post_without_return_url_shows_result(
        self, emulator: RunningEmulator, new_order: Any
    ) -> None:
        order = await new_order()
        async with httpx.AsyncClient(base_url=emulator.base_url, trust_env=False) as browser:
            response = await browser.post(
                f"/checkout/{order['payment_session_id']}",
                data={"outcome": "FAILED", "failure_reason": "insufficient_funds"},
            )
        assert response.status_code == 200
        assert "FAILED" in response.text

    async def test_unknown_session_is_404(self, emulator: RunningEmulator) -> None:
        async with httpx.AsyncClient(base_url=emulator.base_url, trust_env=False) as browser:
            assert (await browser.get("/checkout/session_nope")).status_code == 404
