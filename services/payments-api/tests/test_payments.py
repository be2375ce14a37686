"""Creating, reading, listing and verifying payments through the API."""

from __future__ import annotations

from cashfree_emulator.testing import RunningEmulator
from paycore.audit.models import AuditRecord
from paycore.kit.redis import redis_key
from paycore.payments.models import Payment
from payments_api_testing import (
    CUSTOMER,
    ApiClient,
    api_client,
    create_order_calls,
    new_key,
    new_user,
)


async def stored(payment_id: str) -> Payment:
    raw = await Payment.get_pymongo_collection().find_one({"payment_id": payment_id})
    assert raw is not None
    return Payment.model_validate(raw)


class TestCreate:
    async def test_answers_with_what_checkout_needs(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        response = await api.create_payment(new_user(), amount=12_345)
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["status"] == "PENDING"
        assert data["amount"] == 12_345
        assert data["currency"] == "INR"
        assert data["payment_id"].startswith("pay_")
        assert data["order_id"].startswith("ord_")
        assert data["payment_session_id"]
        assert data["checkout_url"] == api.settings.checkout_base_url + data["payment_session_id"]
        assert data["environment"] == "sandbox"
        assert len(await create_order_calls(emu, data["order_id"])) == 1
        assert response.headers.get("idempotent-replayed") is None

    async def test_stores_customer_contact_sealed_with_lookup_hashes(self, api: ApiClient) -> None:
        response = await api.create_payment(new_user())
        payment = await stored(response.json()["data"]["payment_id"])
        raw = await Payment.get_pymongo_collection().find_one({"payment_id": payment.payment_id})
        assert CUSTOMER["phone"] not in str(raw)
        assert CUSTOMER["email"] not in str(raw)
        assert payment.customer.phone_hash
        assert payment.customer.email_hash
        cipher = api.app.state.api.cipher
        assert cipher.open(payment.customer.phone, "customer.phone") == CUSTOMER["phone"]
        assert payment.customer.email_hash == cipher.lookup_hash(CUSTOMER["email"].upper())

    async def test_history_records_created_then_pending(self, api: ApiClient) -> None:
        response = await api.create_payment(new_user())
        payment = await stored(response.json()["data"]["payment_id"])
        assert [(h.from_status, h.to_status) for h in payment.history] == [("CREATED", "PENDING")]
        assert payment.cf_order_id is not None

    async def test_writes_an_audit_record(self, api: ApiClient) -> None:
        user = new_user()
        response = await api.http.post(
            "/api/v1/payments/create",
            json={"amount": 500, "customer": CUSTOMER},
            headers={**api.headers(user, key=new_key()), "user-agent": "test-agent/1"},
        )
        payment_id = response.json()["data"]["payment_id"]
        raw = await AuditRecord.get_pymongo_collection().find_one(
            {"resource_id": payment_id, "action": "payment.create"}
        )
        assert raw is not None
        record = AuditRecord.model_validate(raw)
        assert record.actor.id == user
        assert record.actor.user_agent == "test-agent/1"
        assert record.actor.ip is not None
        assert record.request_id == response.headers["x-request-id"]
        assert record.after is not None
        assert record.after["status"] == "PENDING"
        intact, _ = await api.app.state.api.audit.verify_chain()
        assert intact


class TestRead:
    async def test_owner_reads_payment_and_status(self, api: ApiClient) -> None:
        user = new_user()
        data = (await api.create_payment(user)).json()["data"]
        got = await api.http.get(
            f"/api/v1/payments/{data['payment_id']}", headers=api.headers(user, "read")
        )
        assert got.status_code == 200
        assert got.json()["data"]["payment_id"] == data["payment_id"]
        status = await api.http.get(
            f"/api/v1/payments/status/{data['order_id']}", headers=api.headers(user, "read")
        )
        assert status.json()["data"] == {
            "payment_id": data["payment_id"],
            "order_id": data["order_id"],
            "status": "PENDING",
            "amount": 10_000,
            "currency": "INR",
            "updated_at": status.json()["data"]["updated_at"],
        }

    async def test_someone_elses_payment_is_not_found(self, api: ApiClient) -> None:
        data = (await api.create_payment(new_user())).json()["data"]
        other = api.headers(new_user(), "read")
        for path in (
            f"/api/v1/payments/{data['payment_id']}",
            f"/api/v1/payments/status/{data['order_id']}",
            f"/api/v1/refunds/payment/{data['payment_id']}",
        ):
            response = await api.http.get(path, headers=other)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "payment_not_found"

    async def test_admin_reads_any_payment(self, api: ApiClient) -> None:
        data = (await api.create_payment(new_user())).json()["data"]
        response = await api.http.get(
            f"/api/v1/payments/{data['payment_id']}", headers=api.headers("ops", "admin")
        )
        assert response.status_code == 200


class TestHistory:
    async def test_pages_newest_first_with_a_cursor(self, api: ApiClient) -> None:
        user = new_user()
        created = [
            (await api.create_payment(user, amount=100 + i)).json()["data"] for i in range(5)
        ]
        headers = api.headers(user, "read")
        first = (await api.http.get("/api/v1/payments/history?limit=2", headers=headers)).json()
        assert [p["amount"] for p in first["data"]["items"]] == [104, 103]
        cursor = first["data"]["next_cursor"]
        second = (
            await api.http.get(f"/api/v1/payments/history?limit=2&cursor={cursor}", headers=headers)
        ).json()
        assert [p["amount"] for p in second["data"]["items"]] == [102, 101]
        third = (
            await api.http.get(
                f"/api/v1/payments/history?limit=2&cursor={second['data']['next_cursor']}",
                headers=headers,
            )
        ).json()
        assert [p["amount"] for p in third["data"]["items"]] == [100]
        assert third["data"]["next_cursor"] is None
        assert {p["payment_id"] for p in created} == {
            p["payment_id"] for page in (first, second, third) for p in page["data"]["items"]
        }

    async def test_filters_by_status_and_dates(self, api: ApiClient) -> None:
        user = new_user()
        await api.create_payment(user)
        headers = api.headers(user, "read")
        pending = await api.http.get("/api/v1/payments/history?status=PENDING", headers=headers)
        assert len(pending.json()["data"]["items"]) == 1
        success = await api.http.get("/api/v1/payments/history?status=success", headers=headers)
        assert success.json()["data"]["items"] == []
        future = await api.http.get("/api/v1/payments/history?from=2999-01-01", headers=headers)
        assert future.json()["data"]["items"] == []
        past = await api.http.get("/api/v1/payments/history?to=2000-01-01", headers=headers)
        assert past.json()["data"]["items"] == []
        today = await api.http.get(
            "/api/v1/payments/history?from=2000-01-01&to=2999-12-31", headers=headers
        )
        assert len(today.json()["data"]["items"]) == 1

    async def test_shows_only_the_callers_payments(self, api: ApiClient) -> None:
        user = new_user()
        await api.create_payment(new_user())
        response = await api.http.get("/api/v1/payments/history", headers=api.headers(user, "read"))
        assert response.json()["data"]["items"] == []


class TestVerify:
    async def verify(self, api: ApiClient, user: str, **body: str) -> dict:
        response = await api.http.post(
            "/api/v1/payments/verify", json=body, headers=api.headers(user)
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]

    async def test_applies_a_successful_payment_once(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user = new_user()
        data = (await api.create_payment(user, amount=2_500)).json()["data"]
        await emu.control.pay(data["payment_session_id"], "SUCCESS")
        first = await self.verify(api, user, payment_id=data["payment_id"])
        assert first["status"] == "SUCCESS"
        assert first["captured_amount"] == 2_500
        assert first["refundable_amount"] == 2_500
        again = await self.verify(api, user, order_id=data["order_id"])
        assert again["status"] == "SUCCESS"
        payment = await stored(data["payment_id"])
        assert [h.to_status for h in payment.history if not h.ignored] == ["PENDING", "SUCCESS"]
        audits = await AuditRecord.get_pymongo_collection().count_documents(
            {"resource_id": data["payment_id"], "action": "payment.verify"}
        )
        assert audits == 1

    async def test_a_failed_attempt_leaves_the_payment_open_until_the_order_closes(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user = new_user()
        data = (await api.create_payment(user)).json()["data"]
        await emu.control.pay(data["payment_session_id"], "FAILED")
        for _ in range(2):  # asked twice, the verdict does not flap
            verified = await self.verify(api, user, payment_id=data["payment_id"])
            assert verified["status"] == "PENDING"  # Cashfree's order is still payable
        payment = await stored(data["payment_id"])
        assert len(payment.failed_attempts) == 1
        assert [e.envelope.type for e in payment.outbox].count("email.payment.failed") <= 1
        await emu.control.expire_order(data["order_id"])
        closed = await self.verify(api, user, payment_id=data["payment_id"])
        assert closed["status"] == "EXPIRED"
        assert closed["failure_reason"] == "ORDER_EXPIRED"

    async def test_success_after_a_failure_wins(self, api: ApiClient, emu: RunningEmulator) -> None:
        user = new_user()
        data = (await api.create_payment(user)).json()["data"]
        await emu.control.pay(data["payment_session_id"], "FAILED")
        await emu.control.pay(data["payment_session_id"], "SUCCESS")
        verified = await self.verify(api, user, payment_id=data["payment_id"])
        assert verified["status"] == "SUCCESS"

    async def test_nothing_paid_yet_stays_pending(self, api: ApiClient) -> None:
        user = new_user()
        data = (await api.create_payment(user)).json()["data"]
        verified = await self.verify(api, user, payment_id=data["payment_id"])
        assert verified["status"] == "PENDING"

    async def test_someone_elses_payment_is_not_found(self, api: ApiClient) -> None:
        data = (await api.create_payment(new_user())).json()["data"]
        response = await api.http.post(
            "/api/v1/payments/verify",
            json={"payment_id": data["payment_id"]},
            headers=api.headers(new_user()),
        )
        assert response.status_code == 404


class TestVerifyThrottle:
    async def test_verify_is_throttled_per_payment_and_repeats_grow_nothing(
        self, emu: RunningEmulator
    ) -> None:
        async with api_client(emu, verify_per_payment_per_minute=3) as api:
            user = new_user()
            data = (await api.create_payment(user)).json()["data"]
            await emu.control.pay(data["payment_session_id"], "FAILED")
            before = len(await emu.control.calls(operation="get_order"))
            answers = [
                await api.http.post(
                    "/api/v1/payments/verify",
                    json={"payment_id": data["payment_id"]},
                    headers=api.headers(user),
                )
                for _ in range(5)
            ]
            assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
            assert answers[3].json()["error"]["code"] == "rate_limited"
            assert int(answers[3].headers["retry-after"]) >= 1
            # Only the allowed ones reached Cashfree.
            assert len(await emu.control.calls(operation="get_order")) - before == 3
            stored = await Payment.get_pymongo_collection().find_one({"_id": data["payment_id"]})
            assert stored is not None
            # One note for the failed attempt, however often it was verified.
            assert len(stored["history"]) == 2  # PENDING, then the failed attempt

    async def test_verify_is_throttled_per_user(self, emu: RunningEmulator) -> None:
        async with api_client(emu, verify_per_user_per_minute=2) as api:
            user = new_user()
            payments = [(await api.create_payment(user)).json()["data"] for _ in range(3)]
            codes = [
                (
                    await api.http.post(
                        "/api/v1/payments/verify",
                        json={"payment_id": payment["payment_id"]},
                        headers=api.headers(user),
                    )
                ).status_code
                for payment in payments
            ]
            assert codes == [200, 200, 429]

    async def test_a_verify_refused_per_user_is_not_counted_against_its_payment(
        self, emu: RunningEmulator
    ) -> None:
        async with api_client(
            emu, verify_per_user_per_minute=2, verify_per_payment_per_minute=2
        ) as api:
            user = new_user()
            payments = [(await api.create_payment(user)).json()["data"] for _ in range(2)]
            codes = [
                (await api.verify(user, payment["payment_id"])).status_code
                for payment in (payments[0], payments[0], payments[1])
            ]
            assert codes == [200, 200, 429]
            redis = api.app.state.api.resources.redis
            key = redis_key(
                api.settings.redis_prefix, "ratelimit", "verify_payment", payments[1]["payment_id"]
            )
            assert await redis.zcard(key) == 0  # refused: it used none of the payment's verifies


class TestAmountRules:
    async def test_below_the_currency_minimum_is_refused_before_any_order(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        before = len(await emu.control.calls(operation="create_order"))
        answer = await api.create_payment(new_user(), amount=99)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "amount_too_small"
        assert len(await emu.control.calls(operation="create_order")) == before
