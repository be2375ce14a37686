import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from cashfree_emulator.testing import RunningEmulator, WebhookReceiver, webhook_receiver


def expected_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    # Written from the fact sheet, independently of cashfree_emulator.signing.
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + raw_body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def is_validly_signed(emulator: RunningEmulator, headers: dict[str, str], body: bytes) -> bool:
    signature = expected_signature(emulator.secret_key, headers["x-webhook-timestamp"], body)
    return hmac.compare_digest(signature, headers["x-webhook-signature"])


async def test_payment_success_webhook_is_signed_like_cashfree(
    emulator: RunningEmulator, receiver: WebhookReceiver, new_order: Any
) -> None:
    order = await new_order(order_amount=170)
    payment = await emulator.control.pay(order["payment_session_id"])
    [hook] = await receiver.wait_for(1)
    headers = hook.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-webhook-version"] == "2025-01-01"
    assert headers["x-webhook-attempt"] == "1"
    assert abs(int(headers["x-webhook-timestamp"]) - time.time() * 1000) < 5000
    assert is_validly_signed(emulator, headers, hook.body)
    assert (
        headers["x-idempotency-key"]
        == base64.b64encode(hashlib.sha256(hook.body).digest()).decode()
    )
    assert b'"order_amount":170.00' in hook.body
    event = json.loads(hook.body)
    assert event["type"] == "PAYMENT_SUCCESS_WEBHOOK"
    assert event["event_time"].endswith("+05:30")
    data = event["data"]
    assert data["order"]["order_id"] == order["order_id"]
    assert data["payment"]["cf_payment_id"] == payment["cf_payment_id"]
    assert data["payment"]["payment_status"] == "SUCCESS"
    assert data["customer_details"]["customer_id"] == "cus_123"
    assert "payment_gateway_details" in data
    assert "international_payment" in data["payment"]


async def test_failed_and_dropped_webhooks(
    emulator: RunningEmulator, receiver: WebhookReceiver, new_order: Any
) -> None:
    order = await new_order()
    await emulator.control.pay(order["payment_session_id"], "FAILED")
    await emulator.control.pay(order["payment_session_id"], "USER_DROPPED")
    hooks = await receiver.wait_for(2)
    events = {json.loads(h.body)["type"]: json.loads(h.body)["data"] for h in hooks}
    failed = events["PAYMENT_FAILED_WEBHOOK"]
    assert failed["error_details"]["error_code"] == "TRANSACTION_DECLINED"
    dropped = events["PAYMENT_USER_DROPPED_WEBHOOK"]
    assert "error_details" not in dropped
    assert "payment_gateway_details" not in dropped


async def test_version_2023_has_no_idempotency_header_and_older_shape(
    emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
) -> None:
    await emulator.control.add_merchant(
        emulator.app_id,
        emulator.secret_key,
        webhook_urls=[receiver.url],
        webhook_version="2023-08-01",
    )
    await paid_order()
    [hook] = await receiver.wait_for(1)
    assert hook.headers["x-webhook-version"] == "2023-08-01"
    assert "x-idempotency-key" not in hook.headers
    payment = json.loads(hook.body)["data"]["payment"]
    assert "international_payment" not in payment
    assert "payment_surcharge" not in payment


async def test_notify_url_receives_payment_webhooks(
    receiver: WebhookReceiver, paid_order: Any
) -> None:
    async with webhook_receiver() as per_order:
        await paid_order(order_meta={"notify_url": per_order.url})
        [hook] = await per_order.wait_for(1)
    assert json.loads(hook.body)["type"] == "PAYMENT_SUCCESS_WEBHOOK"
    await receiver.wait_for(1)


async def test_failed_delivery_is_retried_on_the_scaled_schedule(
    emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
) -> None:
    receiver.respond_with(500, 503)
    await paid_order()
    hooks = await receiver.wait_for(3, timeout=3)
    assert [h.headers["x-webhook-attempt"] for h in hooks] == ["1", "2", "3"]
    assert hooks[0].body == hooks[1].body == hooks[2].body
    assert len({h.headers["x-idempotency-key"] for h in hooks}) == 1
    # 2 and 10 minutes scaled by 0.0005: 60 ms then 300 ms.
    first_gap = hooks[1].received_at - hooks[0].received_at
    second_gap = hooks[2].received_at - hooks[1].received_at
    assert 0.05 <= first_gap < 0.3
    assert 0.28 <= second_gap < 0.8
    # The emulator records an attempt's outcome after the receiver has answered it.
    attempts = await emulator.control.wait_for_events(3, type="PAYMENT_SUCCESS_WEBHOOK", timeout=3)
    assert [(a.attempt, a.status_code, a.outcome) for a in attempts] == [
        (1, 500, "failed"),
        (2, 503, "failed"),
        (3, 200, "delivered"),
    ]


async def test_unreachable_receiver_is_retried_four_times_in_all(
    emulator: RunningEmulator, paid_order: Any
) -> None:
    await emulator.control.add_merchant(
        emulator.app_id, emulator.secret_key, webhook_urls=["http://127.0.0.1:9/unreachable"]
    )
    await emulator.control.configure(webhook_retry_scale=0.0001)
    await paid_order()
    attempts = await emulator.control.wait_for_events(4, timeout=3)
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]
    assert all(a.status_code is None and a.error for a in attempts)


class TestWebhookFaults:
    async def test_drop(
        self, emulator: RunningEmulator, receiver: WebhookReceiver, new_order: Any
    ) -> None:
        await emulator.control.webhook_fault("drop", event_type="PAYMENT_SUCCESS_WEBHOOK")
        order = await new_order()
        await emulator.control.pay(order["payment_session_id"], "FAILED")
        await emulator.control.pay(order["payment_session_id"])
        [hook] = await receiver.wait_for(1)
        assert json.loads(hook.body)["type"] == "PAYMENT_FAILED_WEBHOOK"
        dropped = await emulator.control.wait_for_events(1, outcome="dropped")
        assert dropped[0].event_type == "PAYMENT_SUCCESS_WEBHOOK"

    async def test_duplicate(
        self, emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
    ) -> None:
        await emulator.control.webhook_fault("duplicate", copies=3)
        await paid_order()
        hooks = await receiver.wait_for(3)
        assert len({h.body for h in hooks}) == 1
        assert len({h.headers["x-idempotency-key"] for h in hooks}) == 1

    async def test_delay(
        self, emulator: RunningEmulator, receiver: WebhookReceiver, new_order: Any
    ) -> None:
        await emulator.control.webhook_fault("delay", delay_ms=300)
        order = await new_order()
        started = time.monotonic()
        await emulator.control.pay(order["payment_session_id"])
        [hook] = await receiver.wait_for(1)
        assert hook.received_at - started >= 0.28

    async def test_out_of_order(
        self, emulator: RunningEmulator, receiver: WebhookReceiver, new_order: Any
    ) -> None:
        await emulator.control.webhook_fault("out_of_order")
        order = await new_order()
        await emulator.control.pay(order["payment_session_id"], "FAILED")
        await emulator.control.pay(order["payment_session_id"])
        hooks = await receiver.wait_for(2)
        assert [json.loads(h.body)["type"] for h in hooks] == [
            "PAYMENT_SUCCESS_WEBHOOK",
            "PAYMENT_FAILED_WEBHOOK",
        ]

    async def test_bad_signature(
        self, emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
    ) -> None:
        await emulator.control.webhook_fault("bad_signature")
        await paid_order()
        [hook] = await receiver.wait_for(1)
        assert not is_validly_signed(emulator, hook.headers, hook.body)

    async def test_stale_timestamp_is_still_signed(
        self, emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
    ) -> None:
        await emulator.control.webhook_fault("stale_timestamp", age_seconds=3600)
        await paid_order()
        [hook] = await receiver.wait_for(1)
        age_ms = time.time() * 1000 - int(hook.headers["x-webhook-timestamp"])
        assert 3_590_000 < age_ms < 3_610_000
        assert is_validly_signed(emulator, hook.headers, hook.body)

    async def test_amount_mismatch(
        self, emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
    ) -> None:
        await emulator.control.webhook_fault("amount_mismatch", amount_delta="5.00")
        await paid_order(order_amount=170)
        [hook] = await receiver.wait_for(1)
        data = json.loads(hook.body)["data"]
        assert data["order"]["order_amount"] == 175
        assert data["payment"]["payment_amount"] == 175
        assert is_validly_signed(emulator, hook.headers, hook.body)

    async def test_fault_only_hits_the_next_n(
        self, emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
    ) -> None:
        await emulator.control.webhook_fault("bad_signature", count=1)
        for _ in range(2):
            await paid_order()
        hooks = await receiver.wait_for(2)
        signed = sorted(is_validly_signed(emulator, h.headers, h.body) for h in hooks)
        assert signed == [False, True]
        assert await emulator.control.faults() == []


async def test_refund_status_webhook_has_numeric_ids(
    api: httpx.AsyncClient, emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
) -> None:
    order = await paid_order()
    await api.post(
        f"/orders/{order['order_id']}/refunds", json={"refund_id": "rf_w", "refund_amount": 2}
    )
    hooks = await receiver.wait_for(2)
    refund_hook = next(h for h in hooks if b"REFUND_STATUS_WEBHOOK" in h.body)
    assert is_validly_signed(emulator, refund_hook.headers, refund_hook.body)
    assert b'"refund_amount":2.00' in refund_hook.body
    refund = json.loads(refund_hook.body)["data"]["refund"]
    assert isinstance(refund["cf_refund_id"], int)
    assert isinstance(refund["cf_payment_id"], int)
    assert refund["refund_status"] == "SUCCESS"
    assert refund["refund_id"] == "rf_w"


@pytest.mark.parametrize("status", ["SUCCESS", "FAILED"])
async def test_dashboard_refund_sends_refund_status(
    emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any, status: Any
) -> None:
    order = await paid_order()
    refund = await emulator.control.dashboard_refund(order["order_id"], 5, resolve_to=status)
    hooks = await receiver.wait_for(2)
    hook = next(h for h in hooks if json.loads(h.body)["type"] == "REFUND_STATUS_WEBHOOK")
    data = json.loads(hook.body)["data"]["refund"]
    assert data["refund_id"] == refund["refund_id"]
    assert data["refund_status"] == status


async def test_auto_refund_webhook(
    api: httpx.AsyncClient, emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
) -> None:
    order = await paid_order()
    refund = await emulator.control.auto_refund(order["order_id"])
    assert refund["refund_type"] == "PAYMENT_AUTO_REFUND"
    hooks = await receiver.wait_for(3)
    types = sorted(json.loads(h.body)["type"] for h in hooks)
    assert types == [
        "AUTO_REFUND_STATUS_WEBHOOK",
        "PAYMENT_SUCCESS_WEBHOOK",
        "PAYMENT_SUCCESS_WEBHOOK",
    ]
    hook = next(h for h in hooks if b"AUTO_REFUND_STATUS_WEBHOOK" in h.body)
    auto = json.loads(hook.body)["data"]["auto_refund"]
    assert auto["refund_status"] == "SUCCESS"
    assert auto["cf_payment_id"] == refund["cf_payment_id"]
    payments = (await api.get(f"/orders/{order['order_id']}/payments")).json()
    assert len(payments) == 2


async def test_events_log_lists_every_attempt(
    emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
) -> None:
    await paid_order()
    await receiver.wait_for(1)
    [attempt] = await emulator.control.wait_for_events(1, app_id=emulator.app_id)
    assert attempt.url == receiver.url
    assert attempt.status_code == 200
    assert attempt.body.encode() == receiver.received[0].body
    assert (
        attempt.headers["x-webhook-signature"]
        == receiver.received[0].headers["x-webhook-signature"]
    )


async def test_a_dispute_sends_created_then_closed_with_its_deadline(
    emulator: RunningEmulator, receiver: WebhookReceiver, paid_order: Any
) -> None:
    order_id = (await paid_order())["order_id"]
    opened = await emulator.control.dispute(order_id, dispute_type="CHARGEBACK", amount="5.00")
    await emulator.control.move_dispute(str(opened["dispute_id"]), "CHARGEBACK_MERCHANT_LOST")
    created_events = await emulator.control.wait_for_events(1, type="DISPUTE_CREATED")
    closed_events = await emulator.control.wait_for_events(1, type="DISPUTE_CLOSED")
    bodies = [json.loads(d.body) for d in [*created_events, *closed_events]]
    created = next(b for b in bodies if b["type"] == "DISPUTE_CREATED")
    assert created["data"]["dispute"]["respond_by"]
    assert created["data"]["order_details"]["order_id"] == order_id
    closed = next(b for b in bodies if b["type"] == "DISPUTE_CLOSED")
    assert closed["data"]["dispute"]["dispute_status"] == "CHARGEBACK_MERCHANT_LOST"
