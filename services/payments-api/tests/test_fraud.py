"""Fraud screening on payment creation: allow, review (allowed, flagged) or block (403)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from cashfree_emulator.testing import RunningEmulator
from paycore.fraud.models import FraudSignal
from payments_api_testing import (
    CUSTOMER,
    ApiClient,
    api_client,
    bound_queue,
    drain,
    new_key,
    new_user,
)


@pytest.fixture(scope="module")
async def guarded(emu: RunningEmulator) -> AsyncIterator[ApiClient]:
    async with api_client(
        emu,
        fraud_review_per_user=2,
        fraud_block_per_user=4,
        fraud_review_per_device=100,
        fraud_block_per_device=2,
        fraud_review_failures=1,
        fraud_block_failures=2,
        fraud_review_amount=1_000_000,
    ) as client:
        yield client


def distinct(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One per event id: the outbox publishes at least once (a write slower than the relay's
    grace is published by the writer and by the sweep; `paycore.testing.SeenEvents`)."""
    return list({event["event_id"]: event for event in events}.values())


async def signals_of(user: str) -> list[FraudSignal]:
    cursor = FraudSignal.get_pymongo_collection().find({"user_id": user}).sort("created_at", 1)
    return [FraudSignal.model_validate(raw) async for raw in cursor]


async def create(api: ApiClient, user: str, amount: int = 1_000, **headers: str):  # type: ignore[no-untyped-def]
    return await api.http.post(
        "/api/v1/payments/create",
        json={"amount": amount, "customer": {**CUSTOMER, "email": f"{user}@example.com"}},
        headers={**api.headers(user, key=new_key()), **headers},
    )


class TestVelocity:
    async def test_user_velocity_goes_allow_review_block(self, guarded: ApiClient) -> None:
        user = new_user()
        async with (
            bound_queue(guarded.settings, "analytics.exchange", "analytics.fraud.*") as analytics,
            bound_queue(guarded.settings, "email.exchange", "email.admin.alert") as alerts,
        ):
            responses = [await create(guarded, user) for _ in range(5)]
            assert [r.status_code for r in responses] == [201, 201, 201, 201, 403]
            assert responses[0].json()["data"]["risk_flags"] == []
            assert responses[2].json()["data"]["risk_flags"] == ["user_velocity"]
            blocked = responses[4].json()["error"]
            assert blocked["code"] == "fraud_blocked"
            assert "user_velocity" in blocked["details"]["reasons"]
            signals = await signals_of(user)
            assert [s.decision.value for s in signals] == ["review", "review", "block"]
            assert blocked["details"]["signal_id"] == signals[-1].signal_id
            published = distinct(await drain(analytics))
            admin = distinct(await drain(alerts))
        assert sorted(event["type"] for event in published) == [
            "analytics.fraud.blocked",
            "analytics.fraud.flagged",
            "analytics.fraud.flagged",
        ]
        # One alert per incident (user, decision, reasons, window), not one per request.
        assert sorted(event["data"]["alert"] for event in admin) == ["fraud_block", "fraud_review"]

    async def test_device_fingerprint_is_tracked_across_users(self, guarded: ApiClient) -> None:
        device = {"x-device-fingerprint": "dev-" + new_key()}
        statuses = [(await create(guarded, new_user(), **device)).status_code for _ in range(3)]
        assert statuses == [201, 201, 403]

    async def test_large_amount_is_flagged_not_blocked(self, guarded: ApiClient) -> None:
        response = await create(guarded, new_user(), amount=2_000_000)
        assert response.status_code == 201
        assert response.json()["data"]["risk_flags"] == ["high_amount"]


class TestRepeatedFailures:
    async def test_failed_payments_lead_to_review_then_block(
        self, guarded: ApiClient, emu: RunningEmulator
    ) -> None:
        user = new_user()
        for expected_flags in ([], ["repeated_failures"]):
            response = await create(guarded, user)
            data = response.json()["data"]
            assert data["risk_flags"] == expected_flags
            await emu.control.pay(data["payment_session_id"], "FAILED")
            verified = await guarded.verify(user, data["payment_id"])
            # A failed attempt leaves the order payable: the payment stays open.
            assert verified.json()["data"]["status"] == "PENDING"
        blocked = await create(guarded, user)
        assert blocked.status_code == 403
        assert "repeated_failures" in blocked.json()["error"]["details"]["reasons"]
