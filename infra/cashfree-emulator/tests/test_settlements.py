import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cashfree_emulator.testing import RunningEmulator, WebhookReceiver


async def test_settle_computes_charges_and_sends_webhook(
    api: httpx.AsyncClient, emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
) -> None:
    order = await paid_order(order_amount=100)
    settlement = await emulator.control.settle(order["order_id"])
    assert settlement["service_charge"] == Decimal("2.00")
    assert settlement["service_tax"] == Decimal("0.36")
    assert settlement["settlement_amount"] == Decimal("97.64")
    assert settlement["transfer_utr"]
    fetched = await api.get(f"/orders/{order['order_id']}/settlements")
    assert fetched.status_code == 200
    assert fetched.json()["cf_settlement_id"] == settlement["cf_settlement_id"]
    hooks = await receiver.wait_for(2)
    # Deliveries run concurrently, so find the webhook by its type.
    hook = next(h for h in hooks if json.loads(h.body)["type"] == "SETTLEMENT_SUCCESS")
    data = json.loads(hook.body)["data"]["settlement"]
    assert data["settlement_id"] == int(settlement["cf_settlement_id"])
    assert isinstance(data["utr"], int)
    assert b'"amount_settled":97.64' in hook.body


async def test_a_settlement_short_of_its_charges(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    order = await paid_order(order_amount=100)
    settlement = await emulator.control.settle(order["order_id"], short_by="1.50")
    # 100 - 2.00 charge - 0.36 tax = 97.64, paid 1.50 short; the charges stay as they were.
    assert (settlement["service_charge"], settlement["service_tax"]) == (
        Decimal("2.00"),
        Decimal("0.36"),
    )
    assert settlement["settlement_amount"] == Decimal("96.14")
    fetched = (await api.get(f"/orders/{order['order_id']}/settlements")).json()
    assert Decimal(str(fetched["settlement_amount"])) == Decimal("96.14")


async def test_settlement_reversal(
    emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
) -> None:
    order = await paid_order()
    await emulator.control.settle(order["order_id"])
    await emulator.control.settle(order["order_id"], "REVERSED")
    hooks = await receiver.wait_for(3)
    assert {json.loads(h.body)["type"] for h in hooks} == {
        "PAYMENT_SUCCESS_WEBHOOK",
        "SETTLEMENT_SUCCESS",
        "SETTLEMENT_REVERSED",
    }


async def test_unsettled_order_has_no_settlement(api: httpx.AsyncClient, paid_order: Any) -> None:
    order = await paid_order()
    response = await api.get(f"/orders/{order['order_id']}/settlements")
    assert response.status_code == 404


async def test_settlements_are_paginated_with_an_opaque_cursor(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    for index in range(12):
        order = await paid_order(order_id=f"set_{index:02d}")
        await emulator.control.settle(order["order_id"])
    first = (await api.post("/settlements", json={"pagination": {"limit": 10}})).json()
    assert len(first["data"]) == 10
    assert first["limit"] == 10
    assert isinstance(first["cursor"], str)
    second = (
        await api.post(
            "/settlements", json={"pagination": {"limit": 10, "cursor": first["cursor"]}}
        )
    ).json()
    assert len(second["data"]) == 2
    assert second["cursor"] is None
    orders = [s["order_id"] for s in first["data"] + second["data"]]
    assert orders == [f"set_{index:02d}" for index in range(12)]


async def test_settlement_filters(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    one = await emulator.control.settle((await paid_order())["order_id"])
    await emulator.control.settle((await paid_order())["order_id"])
    by_id = await api.post(
        "/settlements",
        json={
            "pagination": {"limit": 10},
            "filters": {"cf_settlement_ids": [one["cf_settlement_id"]]},
        },
    )
    assert [s["cf_settlement_id"] for s in by_id.json()["data"]] == [one["cf_settlement_id"]]
    by_utr = await api.post(
        "/settlements",
        json={"pagination": {"limit": 10}, "filters": {"settlement_utrs": [one["transfer_utr"]]}},
    )
    assert len(by_utr.json()["data"]) == 1
    past = await api.post(
        "/settlements",
        json={
            "pagination": {"limit": 10},
            "filters": {"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-01-02T00:00:00Z"},
        },
    )
    assert past.json()["data"] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "pagination.limit_missing"),
        ({"pagination": {"limit": 5}}, "pagination.limit_invalid"),
        ({"pagination": {"limit": 1001}}, "pagination.limit_invalid"),
        ({"pagination": {"limit": 10, "cursor": "@@@"}}, "pagination.cursor_invalid"),
        (
            {
                "pagination": {"limit": 10},
                "filters": {
                    "start_date": "2022-07-21T00:00:00Z",
                    "end_date": "2022-07-20T00:00:00Z",
                },
            },
            "order_expiry_time_invalid",
        ),
    ],
)
async def test_settlement_request_validation(
    api: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    response = await api.post("/settlements", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == code


async def test_settlement_recon_lists_payment_and_refund_events(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    order = await paid_order(order_amount=100)
    await api.post(
        f"/orders/{order['order_id']}/refunds", json={"refund_id": "rf_r", "refund_amount": 10}
    )
    await emulator.control.wait_for_events(1, type="REFUND_STATUS_WEBHOOK")
    await emulator.control.settle(order["order_id"])
    recon = (await api.post("/settlement/recon", json={"pagination": {"limit": 10}})).json()
    assert [(e["event_type"], e["sale_type"]) for e in recon["data"]] == [
        ("PAYMENT", "CREDIT"),
        ("REFUND", "DEBIT"),
    ]
    assert recon["cursor"] is None


async def test_pg_recon_needs_dates(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    order = await paid_order()
    await emulator.control.settle(order["order_id"])
    missing = await api.post("/recon", json={"pagination": {"limit": 10}})
    assert missing.status_code == 400
    recon = await api.post(
        "/recon",
        json={
            "pagination": {"limit": 10},
            "filters": {"start_date": "2020-01-01T00:00:00Z", "end_date": "2100-01-01T00:00:00Z"},
        },
    )
    types = [e["event_type"] for e in recon.json()["data"]]
    assert types == ["PAYMENT", "SETTLEMENT"]


async def test_pg_recon_lists_unsettled_captures_only_when_told(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    order = await paid_order(order_amount=100)
    body = {
        "pagination": {"limit": 10},
        "filters": {"start_date": "2020-01-01T00:00:00Z", "end_date": "2100-01-01T00:00:00Z"},
    }

    async def events() -> list[tuple[str, str | None]]:
        data = (await api.post("/recon", json=body)).json()["data"]
        return [(e["event_type"], e.get("cf_settlement_id")) for e in data]

    # The narrower reading (default): nothing before the settlement.
    assert await events() == []
    await emulator.control.configure(recon_lists_unsettled=True)
    assert await events() == [("PAYMENT", None)]
    # Once settled, the capture is listed once, with its settlement.
    settlement = await emulator.control.settle(order["order_id"])
    settled_id = str(settlement["cf_settlement_id"])
    assert await events() == [("PAYMENT", settled_id), ("SETTLEMENT", settled_id)]


async def test_auto_settle_after_payment(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    await emulator.control.configure(auto_settle_seconds=0)
    order = await paid_order()
    await emulator.control.wait_for_events(1, type="SETTLEMENT_SUCCESS")
    assert (await api.get(f"/orders/{order['order_id']}/settlements")).status_code == 200


async def test_recon_items_are_nested_from_2026_01_01(
    api: httpx.AsyncClient, emulator: RunningEmulator, paid_order: Any
) -> None:
    order = await paid_order(order_amount=100)
    await emulator.control.settle(order["order_id"])
    body = {
        "pagination": {"limit": 10},
        "filters": {"start_date": "2020-01-01T00:00:00Z", "end_date": "2100-01-01T00:00:00Z"},
    }
    flat = (await api.post("/recon", json=body)).json()["data"]
    nested = (await api.post("/recon", json=body, headers={"x-api-version": "2026-01-01"})).json()[
        "data"
    ]

    assert [e["event_details"]["event_type"] for e in nested] == ["PAYMENT", "SETTLEMENT"]
    payment = nested[0]
    assert payment["order_details"]["order_id"] == order["order_id"]
    assert payment["settlement_details"]["utr"] == flat[0]["settlement_utr"]
    assert payment["payment_details"]["cf_payment_id"] == flat[0]["cf_payment_id"]
    assert "event_type" not in payment  # nothing left flat
    settled = (
        await api.post("/settlement/recon", json=body, headers={"x-api-version": "2026-01-01"})
    ).json()["data"]
    assert [e["event_details"]["event_type"] for e in settled] == ["PAYMENT"]
