"""Refund requests: reserved on the payment with one guarded update, never more than captured."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from cashfree_emulator.testing import RunningEmulator
from paycore.audit.models import AuditRecord
from paycore.payments.models import Payment
from paycore.refunds.models import Refund
from payments_api_testing import ApiClient, new_key, new_user

INITIATE = "/api/v1/refunds/initiate"


async def paid_payment(api: ApiClient, emu: RunningEmulator, amount: int) -> tuple[str, str]:
    """A payment of `amount` paise by a new user, paid and verified: (user, payment_id)."""
    user = new_user()
    data = (await api.create_payment(user, amount=amount)).json()["data"]
    await emu.control.pay(data["payment_session_id"], "SUCCESS")
    verified = await api.verify(user, data["payment_id"])
    assert verified.json()["data"]["status"] == "SUCCESS"
    return user, str(data["payment_id"])


async def initiate(api: ApiClient, user: str, key: str | None = None, **body: Any) -> Any:
    return await api.http.post(INITIATE, json=body, headers=api.headers(user, key=key or new_key()))


async def stored_payment(payment_id: str) -> Payment:
    raw = await Payment.get_pymongo_collection().find_one({"payment_id": payment_id})
    return Payment.model_validate(raw)


class TestInitiate:
    async def test_twenty_concurrent_partial_refunds_never_exceed_the_capture(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, payment_id = await paid_payment(api, emu, 10_000)
        amounts = [700, 1_300] * 10  # 20 000 asked of 10 000
        responses = await asyncio.gather(
            *(initiate(api, user, payment_id=payment_id, amount=amount) for amount in amounts)
        )
        accepted = [r.json()["data"] for r in responses if r.status_code == 202]
        refused = [r.json()["error"] for r in responses if r.status_code != 202]
        assert {r.status_code for r in responses} <= {202, 422}
        assert all(error["code"] == "refund_exceeds_refundable" for error in refused)
        total = sum(refund["amount"] for refund in accepted)
        assert total <= 10_000
        payment = await stored_payment(payment_id)
        assert payment.refund_reserved_amount == total
        assert payment.refundable_amount == 10_000 - total
        # Exactly the requests that fit: what is left is smaller than every refused ask.
        assert all(error["details"]["requested"] > payment.refundable_amount for error in refused)
        assert len(payment.refund_reservations) == len(accepted)
        stored = await Refund.get_pymongo_collection().count_documents({"payment_id": payment_id})
        assert stored == len(accepted)

    async def test_omitted_amount_refunds_everything_left(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, payment_id = await paid_payment(api, emu, 5_000)
        partial = await initiate(api, user, payment_id=payment_id, amount=1_000)
        rest = await initiate(api, user, payment_id=payment_id, reason="customer asked")
        assert partial.status_code == rest.status_code == 202
        refund = rest.json()["data"]
        assert refund["amount"] == 4_000
        assert refund["status"] == "INITIATED"
        assert refund["reason"] == "customer asked"
        nothing_left = await initiate(api, user, payment_id=payment_id)
        assert nothing_left.status_code == 422

    async def test_refund_carries_its_event_and_audit(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, payment_id = await paid_payment(api, emu, 2_000)
        response = await initiate(api, user, payment_id=payment_id, amount=500)
        refund_id = response.json()["data"]["refund_id"]
        raw = await Refund.get_pymongo_collection().find_one({"refund_id": refund_id})
        refund = Refund.model_validate(raw)
        assert [h.to_status for h in refund.history] == ["INITIATED"]
        audit = await AuditRecord.get_pymongo_collection().find_one(
            {"resource_id": refund_id, "action": "refund.initiate"}
        )
        assert audit is not None
        assert audit["action"] == "refund.initiate"
        assert audit["before"]["refundable_amount"] == 2_000
        assert audit["after"]["refundable_amount"] == 1_500

    async def test_replays_and_refuses_another_body_under_the_same_key(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, payment_id = await paid_payment(api, emu, 2_000)
        key = new_key()
        first = await initiate(api, user, key, payment_id=payment_id, amount=300)
        again = await initiate(api, user, key, payment_id=payment_id, amount=300)
        other = await initiate(api, user, key, payment_id=payment_id, amount=301)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["data"]["refund_id"] == first.json()["data"]["refund_id"]
        assert other.status_code == 422
        assert other.json()["error"]["code"] == "idempotency_key_reused"
        payment = await stored_payment(payment_id)
        assert payment.refund_reserved_amount == 300

    async def test_an_unpaid_payment_cannot_be_refunded(self, api: ApiClient) -> None:
        user = new_user()
        data = (await api.create_payment(user)).json()["data"]
        response = await initiate(api, user, payment_id=data["payment_id"], amount=100)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "payment_not_refundable"

    async def test_someone_elses_payment_is_not_found(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        _, payment_id = await paid_payment(api, emu, 1_000)
        response = await initiate(api, new_user(), payment_id=payment_id, amount=100)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "payment_not_found"

    async def test_needs_the_refund_scope(self, api: ApiClient, emu: RunningEmulator) -> None:
        user, payment_id = await paid_payment(api, emu, 1_000)
        response = await api.http.post(
            INITIATE,
            json={"payment_id": payment_id},
            headers=api.headers(user, "read,write", key=new_key()),
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "insufficient_scope"


class TestRead:
    async def test_owner_reads_refunds_of_a_payment(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, payment_id = await paid_payment(api, emu, 3_000)
        first = (await initiate(api, user, payment_id=payment_id, amount=100)).json()["data"]
        second = (await initiate(api, user, payment_id=payment_id, amount=200)).json()["data"]
        listed = await api.http.get(
            f"/api/v1/refunds/payment/{payment_id}", headers=api.headers(user, "read")
        )
        assert [r["refund_id"] for r in listed.json()["data"]["items"]] == [
            second["refund_id"],
            first["refund_id"],
        ]
        one = await api.http.get(
            f"/api/v1/refunds/{first['refund_id']}", headers=api.headers(user, "read")
        )
        assert one.json()["data"]["amount"] == 100
        hidden = await api.http.get(
            f"/api/v1/refunds/{first['refund_id']}", headers=api.headers(new_user(), "read")
        )
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == "refund_not_found"


async def test_an_out_of_date_payment_is_rechecked_before_its_refund(
    api: ApiClient, emu: RunningEmulator
) -> None:
    user = new_user()
    data = (await api.create_payment(user, amount=10_000)).json()["data"]
    await emu.control.pay(data["payment_session_id"], "SUCCESS")  # its webhook never arrives
    payment_id = data["payment_id"]

    # Not yet due for a check: decided on what we hold (PENDING is not refundable).
    early = await initiate(api, user, payment_id=payment_id, amount=4_000)
    assert (early.status_code, early.json()["error"]["code"]) == (409, "payment_not_refundable")

    await Payment.get_pymongo_collection().update_one(
        {"payment_id": payment_id}, {"$set": {"recheck.due_at": datetime.now(UTC)}}
    )
    accepted = await initiate(api, user, payment_id=payment_id, amount=4_000)

    assert accepted.status_code == 202, accepted.text
    payment = await stored_payment(payment_id)
    assert (payment.status.value, payment.refundable_amount) == ("SUCCESS", 6_000)
