"""Idempotency-Key on creates (docs/design.md §4), and recovering an order whose answer was lost."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from cashfree_emulator.testing import RunningEmulator
from paycore.gateway import CashfreeGateway, GatewayCustomer, GatewayOrderRequest
from paycore.idempotency.store import IdempotencyStore, fingerprint
from paycore.payments.creation import CustomerDetails, NewPayment
from paycore.payments.models import Payment
from paycore.testing import eventually
from payments_api_testing import (
    CUSTOMER,
    ApiClient,
    api_client,
    create_order_calls,
    new_key,
    new_user,
)
from redis.asyncio import Redis

CREATE = "/api/v1/payments/create"


async def payments_of(user: str) -> list[Payment]:
    cursor = Payment.get_pymongo_collection().find({"user_id": user})
    return [Payment.model_validate(raw) async for raw in cursor]


async def forget_keys(api: ApiClient) -> None:
    """Redis loses every idempotency key of this run (eviction, failover)."""
    redis = api.app.state.api.resources.redis
    async for key in redis.scan_iter(f"{api.settings.redis_prefix}idempotency:*"):
        await redis.delete(key)


class TestReplay:
    async def test_users_and_keys_that_look_alike_joined_do_not_interfere(
        self, api: ApiClient
    ) -> None:
        # "usr:a" + key "k:1" and "usr:a:k" + key "1" would share one Redis key joined by ":".
        suffix = uuid.uuid4().hex[:8]
        first = await api.create_payment(f"usr:{suffix}", key="k:1")
        second = await api.create_payment(f"usr:{suffix}:k", key="1", amount=20_000)
        assert first.status_code == second.status_code == 201
        assert "idempotent-replayed" not in second.headers
        assert first.json()["data"]["payment_id"] != second.json()["data"]["payment_id"]

    async def test_same_key_and_body_replays_the_first_answer(self, api: ApiClient) -> None:
        user, key = new_user(), new_key()
        first = await api.create_payment(user, key=key)
        second = await api.create_payment(user, key=key)
        assert second.status_code == first.status_code == 201
        assert second.headers["idempotent-replayed"] == "true"
        assert second.json() == first.json()  # the stored answer, request id included
        assert len(await payments_of(user)) == 1

    async def test_same_body_in_another_key_order_is_the_same_request(self, api: ApiClient) -> None:
        user, key = new_user(), new_key()
        headers = api.headers(user, key=key)
        body = b'{"amount": 700, "customer": {"phone": "9876543210"}}'
        reordered = b'{"customer":{"phone":"9876543210"},"amount":700}'
        first = await api.http.post(
            CREATE, content=body, headers={**headers, "content-type": "application/json"}
        )
        second = await api.http.post(
            CREATE, content=reordered, headers={**headers, "content-type": "application/json"}
        )
        assert first.status_code == 201
        assert second.headers["idempotent-replayed"] == "true"

    async def test_same_key_with_another_body_is_refused(self, api: ApiClient) -> None:
        user, key = new_user(), new_key()
        await api.create_payment(user, amount=100, key=key)
        other = await api.create_payment(user, amount=200, key=key)
        assert other.status_code == 422
        assert other.json()["error"]["code"] == "idempotency_key_reused"

    async def test_keys_belong_to_their_user(self, api: ApiClient) -> None:
        key = new_key()
        first = await api.create_payment(new_user(), key=key)
        second = await api.create_payment(new_user(), key=key)
        assert second.status_code == 201
        assert second.json()["data"]["payment_id"] != first.json()["data"]["payment_id"]

    async def test_an_error_answer_is_replayed_too(self, api: ApiClient) -> None:
        user, key = new_user(), new_key()
        body = {"amount": 100, "customer": CUSTOMER, "invoice_number": "NO-SUCH-INVOICE"}
        first = await api.http.post(CREATE, json=body, headers=api.headers(user, key=key))
        second = await api.http.post(CREATE, json=body, headers=api.headers(user, key=key))
        assert first.status_code == second.status_code == 404
        assert second.headers["idempotent-replayed"] == "true"


class TestConcurrency:
    async def test_fifty_concurrent_creates_make_one_payment_and_one_order(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, key = new_user(), new_key()
        responses = await asyncio.gather(
            *(api.create_payment(user, amount=4_200, key=key) for _ in range(50))
        )
        statuses = [response.status_code for response in responses]
        assert set(statuses) <= {201, 409}, statuses
        successes = [
            response.json()["data"] for response in responses if response.status_code == 201
        ]
        assert successes
        assert len({data["payment_id"] for data in successes}) == 1
        for response in responses:
            if response.status_code == 409:
                assert response.json()["error"]["code"] == "idempotency_request_in_flight"
                assert int(response.headers["retry-after"]) >= 1
        payments = await payments_of(user)
        assert len(payments) == 1
        calls = await create_order_calls(emu, payments[0].order_id)
        assert len([call for call in calls if not call.replayed]) == 1
        # Afterwards every retry gets the one answer.
        retry = await api.create_payment(user, amount=4_200, key=key)
        assert retry.json()["data"]["payment_id"] == successes[0]["payment_id"]

    async def test_a_repeat_while_the_first_is_running_gets_409_retry_after(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, key = new_user(), new_key()
        # The gateway holds the first request's call (then drops it; the client retries).
        await emu.control.hold_next_calls("hang", 0.6, operation="create_order")
        earlier = {call.id for call in await emu.control.calls(operation="create_order")}
        first = asyncio.create_task(api.create_payment(user, key=key))

        async def first_is_held_at_the_gateway() -> bool:
            calls = await emu.control.calls(operation="create_order")
            return any(call.fault for call in calls if call.id not in earlier)

        # Its key claimed: the second arrives within the 0.6 s the first is held.
        await eventually(first_is_held_at_the_gateway, timeout=5)
        second = await api.create_payment(user, key=key)
        assert second.status_code == 409
        assert second.headers["retry-after"] == "1"
        assert (await first).status_code == 201

    async def test_unique_index_is_the_backstop_when_redis_lost_the_key(
        self, api: ApiClient
    ) -> None:
        user, key = new_user(), new_key()
        first = await api.create_payment(user, key=key)
        await forget_keys(api)
        again = await api.create_payment(user, key=key)
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["data"]["payment_id"] == first.json()["data"]["payment_id"]
        await forget_keys(api)
        other_body = await api.create_payment(user, amount=100, key=key)
        assert other_body.status_code == 422
        assert len(await payments_of(user)) == 1

    async def test_without_redis_concurrent_creates_still_make_one_payment(
        self, api: ApiClient
    ) -> None:
        """Redis unreachable: the idempotency cache steps aside and the unique index decides."""
        user, key = new_user(), new_key()
        state = api.app.state.api
        working = state.idempotency
        unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        state.idempotency = IdempotencyStore(unreachable, prefix=api.settings.redis_prefix)
        try:
            responses = await asyncio.gather(
                *(api.create_payment(user, key=key) for _ in range(10))
            )
        finally:
            state.idempotency = working
            await unreachable.aclose()
        assert {response.status_code for response in responses} == {201}
        assert len({response.json()["data"]["payment_id"] for response in responses}) == 1
        payments = await payments_of(user)
        assert len(payments) == 1
        assert payments[0].status.value == "PENDING"


@pytest.fixture(scope="module")
async def fragile(emu: RunningEmulator) -> AsyncIterator[ApiClient]:
    """An app whose gateway client gives up fast and never retries on its own."""
    async with api_client(emu, cashfree_timeout_seconds=0.5, cashfree_max_retries=0) as client:
        yield client


class TestLostGatewayAnswer:
    async def test_retried_create_recovers_an_order_whose_answer_was_lost(
        self, fragile: ApiClient, emu: RunningEmulator
    ) -> None:
        user, key = new_user(), new_key()
        # Cashfree creates the order but the answer never arrives, and the look-up that would
        # settle it at once fails too: the request ends without knowing.
        await emu.control.hold_next_calls("lose", 1.0, operation="create_order")
        await emu.control.fail_next_calls(500, operation="get_order")
        first = await fragile.create_payment(user, key=key)
        assert first.status_code == 504
        assert first.json()["error"]["code"] == "gateway_timeout"
        [payment] = await payments_of(user)
        assert payment.status.value == "CREATED"  # our record exists, with its order id
        retry = await fragile.create_payment(user, key=key)
        assert retry.status_code == 201, retry.text
        data = retry.json()["data"]
        assert data["order_id"] == payment.order_id
        assert data["status"] == "PENDING"
        assert data["payment_session_id"]
        executed = [c for c in await create_order_calls(emu, payment.order_id) if not c.replayed]
        assert len(executed) == 1
        assert len(await payments_of(user)) == 1

    async def test_order_already_at_cashfree_is_fetched_after_a_crash(
        self, fragile: ApiClient, emu: RunningEmulator
    ) -> None:
        """A process died after Cashfree created the order and before we stored the answer;
        Redis lost the key. The retry meets Cashfree's 409 and fetches the existing order."""
        user, key = new_user(), new_key()
        body = {"amount": 3_300, "currency": "INR", "customer": CUSTOMER}
        api = fragile.app.state.api
        started = await api.creator.start(
            NewPayment(
                user_id=user,
                idempotency_key=key,
                request_fingerprint=fingerprint(user, "POST", CREATE, body),
                amount=3_300,
                currency="INR",
                customer=CustomerDetails(**CUSTOMER),
            )
        )
        order_id = started.payment.order_id
        async with CashfreeGateway(fragile.settings) as gateway:
            await gateway.create_order(
                GatewayOrderRequest(
                    order_id=order_id,
                    amount_minor=3_300,
                    currency="INR",
                    customer=GatewayCustomer(customer_id="cus_crash", phone=CUSTOMER["phone"]),
                ),
                idempotency_key=str(uuid.uuid4()),  # not the key our retry will send
            )
        response = await fragile.http.post(
            CREATE, json=body, headers=fragile.headers(user, key=key)
        )
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["order_id"] == order_id
        assert data["status"] == "PENDING"
        assert response.headers["idempotent-replayed"] == "true"
        calls = await emu.control.calls(operation="create_order")
        statuses = [call.status for call in calls if order_id in call.body]
        assert statuses == [200, 409]
