"""CashfreeGateway against the running Cashfree emulator: every endpoint, error and fault."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cashfree_emulator.testing import RunningEmulator, running_emulator
from paycore.gateway import (
    CashfreeGateway,
    GatewayAttemptStatus,
    GatewayAuthError,
    GatewayConflict,
    GatewayCustomer,
    GatewayIdempotencyError,
    GatewayNotFound,
    GatewayOrderRequest,
    GatewayOrderStatus,
    GatewayRateLimited,
    GatewayReconEventType,
    GatewayReconQuery,
    GatewayRefundRequest,
    GatewayRefundStatus,
    GatewayServerError,
    GatewaySettlementQuery,
    GatewaySettlementStatus,
    GatewayTimeout,
    GatewayValidationError,
    RetryPolicy,
    idempotency_key,
    verify_webhook_signature,
)
from paycore.kit.settings import CashfreeSettings
from paycore.testing import eventually

CLIENT_TIMEOUT = 0.5
HELD_SECONDS = 1.0  # a faulted call is held longer than the client waits
NO_LISTENER = "http://127.0.0.1:9/webhooks"  # deliveries fail, but are recorded with headers

MakeGateway = Callable[..., CashfreeGateway]


@pytest.fixture(scope="module")
async def emu() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(refund_delay_seconds=0.05, webhook_urls=[NO_LISTENER]) as running:
        yield running


@pytest.fixture
async def make_gateway(emu: RunningEmulator) -> AsyncIterator[MakeGateway]:
    await emu.control.reset()
    made: list[CashfreeGateway] = []

    def make(
        *, max_retries: int = 2, secret: str = "TEST_SECRET_KEY", **overrides: Any
    ) -> CashfreeGateway:
        settings = CashfreeSettings(
            cashfree_app_id="TEST_APP_ID",
            cashfree_secret_key=secret,  # type: ignore[arg-type]
            cashfree_base_url=emu.api_url,  # type: ignore[arg-type]
            cashfree_timeout_seconds=CLIENT_TIMEOUT,
            cashfree_max_retries=max_retries,
            **overrides,
        )
        policy = RetryPolicy(max_retries=max_retries, base_delay=0.01, max_delay=0.05)
        gateway = CashfreeGateway(settings, retry_policy=policy)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.aclose()


@pytest.fixture
def gateway(make_gateway: MakeGateway) -> CashfreeGateway:
    return make_gateway()


def new_order(amount_minor: int = 1034) -> GatewayOrderRequest:
    return GatewayOrderRequest(
        order_id=f"ord_{uuid.uuid4().hex[:16]}",
        amount_minor=amount_minor,
        currency="INR",
        customer=GatewayCustomer(
            customer_id="usr_1", phone="9898989898", email="buyer@example.com"
        ),
        return_url="https://shop.example/return",
        note="integration test",
        tags={"suite": "gateway"},
    )


async def create(
    gateway: CashfreeGateway, request: GatewayOrderRequest | None = None
) -> GatewayOrderRequest:
    request = request or new_order()
    await gateway.create_order(request, idempotency_key=idempotency_key("order", request.order_id))
    return request


async def paid_order(
    gateway: CashfreeGateway, emu: RunningEmulator, amount_minor: int = 10_000
) -> GatewayOrderRequest:
    request = new_order(amount_minor)
    order = await gateway.create_order(
        request, idempotency_key=idempotency_key("order", request.order_id)
    )
    assert order.payment_session_id is not None
    await emu.control.pay(order.payment_session_id, "SUCCESS")
    return request


def refund_of(
    order: GatewayOrderRequest, amount_minor: int = 2_500, note: str | None = None
) -> GatewayRefundRequest:
    return GatewayRefundRequest(
        order_id=order.order_id,
        refund_id=f"rfd_{uuid.uuid4().hex[:16]}",
        amount_minor=amount_minor,
        currency=order.currency,
        note=note,
    )


class TestOrders:
    async def test_create_get_and_terminate(self, gateway: CashfreeGateway) -> None:
        request = new_order(17000)
        created = await gateway.create_order(request, idempotency_key="k-" + request.order_id)
        assert (created.order_id, created.amount_minor, created.currency) == (
            request.order_id,
            17000,
            "INR",
        )
        assert created.status is GatewayOrderStatus.OPEN
        assert created.gateway_order_id
        assert created.payment_session_id
        fetched = await gateway.get_order(request.order_id)
        assert fetched.gateway_order_id == created.gateway_order_id
        terminated = await gateway.terminate_order(
            request.order_id, idempotency_key="t-" + request.order_id
        )
        assert terminated.status in {GatewayOrderStatus.TERMINATED, GatewayOrderStatus.TERMINATING}

    async def test_headers_reach_the_gateway(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        request = new_order()
        await gateway.create_order(request, idempotency_key="key-h", request_id="req_trace_1")
        [call] = await emu.control.calls(operation="create_order")
        assert (call.idempotency_key, call.request_id, call.status) == ("key-h", "req_trace_1", 200)
        assert '"order_amount":10.34' in call.body


class TestPayments:
    @pytest.mark.parametrize(
        ("outcome", "status"),
        [
            ("SUCCESS", GatewayAttemptStatus.SUCCEEDED),
            ("FAILED", GatewayAttemptStatus.FAILED),
            ("USER_DROPPED", GatewayAttemptStatus.ABANDONED),
        ],
    )
    async def test_list_and_get_payments(
        self,
        gateway: CashfreeGateway,
        emu: RunningEmulator,
        outcome: str,
        status: GatewayAttemptStatus,
    ) -> None:
        request = new_order(2_000)
        order = await gateway.create_order(request, idempotency_key="k-" + request.order_id)
        assert order.payment_session_id is not None
        assert await gateway.list_payments(request.order_id) == []
        await emu.control.pay(order.payment_session_id, outcome)  # type: ignore[arg-type]
        [payment] = await gateway.list_payments(request.order_id)
        assert (payment.status, payment.amount_minor, payment.order_id) == (
            status,
            2_000,
            request.order_id,
        )
        same = await gateway.get_payment(request.order_id, payment.gateway_payment_id)
        assert same == payment
        expected = GatewayOrderStatus.PAID if outcome == "SUCCESS" else GatewayOrderStatus.OPEN
        assert (await gateway.get_order(request.order_id)).status is expected

    async def test_unknown_payment_is_not_found(self, gateway: CashfreeGateway) -> None:
        request = await create(gateway)
        with pytest.raises(GatewayNotFound):
            await gateway.get_payment(request.order_id, "999999")


class TestRefunds:
    async def test_create_get_list_and_settle_to_success(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        order = await paid_order(gateway, emu)
        request = refund_of(order)
        refund = await gateway.create_refund(request, idempotency_key="r-" + request.refund_id)
        assert (refund.refund_id, refund.amount_minor) == (request.refund_id, 2_500)
        assert refund.gateway_refund_id
        assert refund.gateway_payment_id

        async def succeeded() -> bool:
            fetched = await gateway.get_refund(order.order_id, request.refund_id)
            return fetched.status is GatewayRefundStatus.SUCCEEDED

        await eventually(succeeded, timeout=5.0, interval=0.02)
        [listed] = await gateway.list_refunds(order.order_id)
        assert listed.refund_id == request.refund_id

    async def test_failed_refund_is_read(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        order = await paid_order(gateway, emu)
        await emu.control.refund_fault("failed")
        request = refund_of(order)
        await gateway.create_refund(request, idempotency_key="r-" + request.refund_id)

        async def failed() -> bool:
            fetched = await gateway.get_refund(order.order_id, request.refund_id)
            return fetched.status is GatewayRefundStatus.FAILED

        await eventually(failed, timeout=5.0, interval=0.02)

    async def test_refund_on_unpaid_order_is_a_conflict(self, gateway: CashfreeGateway) -> None:
        order = await create(gateway)
        with pytest.raises(GatewayConflict) as raised:
            await gateway.create_refund(refund_of(order), idempotency_key=str(uuid.uuid4()))
        assert raised.value.gateway_code == "refund_not_allowed"

    async def test_over_refund_is_invalid(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        order = await paid_order(gateway, emu, 10_000)
        with pytest.raises(GatewayValidationError) as raised:
            await gateway.create_refund(refund_of(order, 10_001), idempotency_key=str(uuid.uuid4()))
        assert raised.value.gateway_code == "refund_amount_invalid"

    async def test_existing_refund_id_is_returned_not_duplicated(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        order = await paid_order(gateway, emu)
        request = refund_of(order)
        first = await gateway.create_refund(request, idempotency_key=str(uuid.uuid4()))
        # Another key (e.g. a lost Redis entry) and another note: the gateway refuses the body,
        # we find our refund by its id.
        changed = request.model_copy(update={"note": "changed note"})
        again = await gateway.create_refund(changed, idempotency_key=str(uuid.uuid4()))
        assert again.gateway_refund_id == first.gateway_refund_id
        assert len(await gateway.list_refunds(order.order_id)) == 1

    async def test_existing_refund_id_with_another_amount_is_a_conflict(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        order = await paid_order(gateway, emu)
        request = refund_of(order, 1_000)
        await gateway.create_refund(request, idempotency_key=str(uuid.uuid4()))
        other = request.model_copy(update={"amount_minor": 2_000})
        with pytest.raises(GatewayConflict, match="another amount"):
            await gateway.create_refund(other, idempotency_key=str(uuid.uuid4()))


class TestSettlements:
    async def test_order_settlement_listing_and_recon(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        order = await paid_order(gateway, emu, 10_000)
        await emu.control.settle(order.order_id, "SUCCESS")

        [settlement] = await gateway.get_order_settlements(order.order_id)
        assert settlement.status is GatewaySettlementStatus.SETTLED
        assert settlement.order_amount_minor == 10_000
        assert settlement.utr
        assert settlement.settlement_amount_minor == (
            10_000 - (settlement.service_charge_minor or 0) - (settlement.service_tax_minor or 0)
        )

        window = GatewaySettlementQuery(
            start=datetime.now(UTC) - timedelta(days=1), end=datetime.now(UTC) + timedelta(days=1)
        )
        page = await gateway.list_settlements(window)
        assert [s.order_id for s in page.settlements] == [order.order_id]

        by_utr = await gateway.list_settlements(GatewaySettlementQuery(utrs=[settlement.utr or ""]))
        assert [s.gateway_settlement_id for s in by_utr.settlements] == [
            settlement.gateway_settlement_id
        ]

        recon = await gateway.settlement_recon(window)
        payments = [e for e in recon.entries if e.event_type is GatewayReconEventType.PAYMENT]
        assert [(e.order_id, e.amount_minor, e.is_credit) for e in payments] == [
            (order.order_id, 10_000, True)
        ]

        pg = await gateway.pg_recon(GatewayReconQuery(start=window.start, end=window.end))  # type: ignore[arg-type]
        assert any(e.order_id == order.order_id for e in pg.entries)

    async def test_unsettled_order_has_no_settlement(self, gateway: CashfreeGateway) -> None:
        order = await create(gateway)
        with pytest.raises(GatewayNotFound):
            await gateway.get_order_settlements(order.order_id)

    async def test_recon_pages_with_a_cursor(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        for _ in range(11):
            order = await paid_order(gateway, emu, 1_000)
            await emu.control.settle(order.order_id, "SUCCESS")
        query = GatewaySettlementQuery(
            start=datetime.now(UTC) - timedelta(days=1),
            end=datetime.now(UTC) + timedelta(days=1),
            limit=10,
        )
        first = await gateway.list_settlements(query)
        assert len(first.settlements) == 10
        assert first.cursor
        second = await gateway.list_settlements(query.model_copy(update={"cursor": first.cursor}))
        assert len(second.settlements) == 1
        assert not second.cursor


class TestErrors:
    async def test_wrong_secret_is_an_auth_error(self, make_gateway: MakeGateway) -> None:
        with pytest.raises(GatewayAuthError):
            await make_gateway(secret="WRONG").get_order("ord_x")

    async def test_unsupported_api_version_is_a_validation_error(
        self, make_gateway: MakeGateway
    ) -> None:
        with pytest.raises(GatewayValidationError) as raised:
            await make_gateway(cashfree_api_version="2019-01-01").get_order("ord_x")
        assert raised.value.gateway_code == "version_invalid"

    async def test_invalid_phone_keeps_cashfree_code(self, gateway: CashfreeGateway) -> None:
        request = new_order().model_copy(
            update={"customer": GatewayCustomer(customer_id="usr_1", phone="12")}
        )
        with pytest.raises(GatewayValidationError) as raised:
            await gateway.create_order(request, idempotency_key=str(uuid.uuid4()))
        assert raised.value.gateway_code == "customer_phone_invalid"

    async def test_unknown_order_is_not_found(self, gateway: CashfreeGateway) -> None:
        with pytest.raises(GatewayNotFound) as raised:
            await gateway.get_order("ord_does_not_exist")
        assert raised.value.gateway_code == "order_not_found"

    async def test_terminating_a_paid_order_is_a_conflict(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        order = await paid_order(gateway, emu)
        with pytest.raises(GatewayConflict):
            await gateway.terminate_order(order.order_id, idempotency_key=str(uuid.uuid4()))

    async def test_same_key_with_another_body_is_an_idempotency_error(
        self, gateway: CashfreeGateway
    ) -> None:
        key = str(uuid.uuid4())
        await gateway.create_order(new_order(), idempotency_key=key)
        with pytest.raises(GatewayIdempotencyError):
            await gateway.create_order(new_order(), idempotency_key=key)


class TestIdempotency:
    async def test_same_key_replays_the_same_order(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        request = new_order()
        key = idempotency_key("create_order", request.order_id)
        first = await gateway.create_order(request, idempotency_key=key)
        second = await gateway.create_order(request, idempotency_key=key)
        assert second == first
        calls = await emu.control.calls(operation="create_order")
        assert [c.replayed for c in calls] == [False, True]

    async def test_existing_order_id_is_fetched_when_it_matches(
        self, gateway: CashfreeGateway
    ) -> None:
        request = await create(gateway)
        again = await gateway.create_order(request, idempotency_key=str(uuid.uuid4()))
        assert again.order_id == request.order_id

    async def test_existing_order_id_with_another_amount_is_never_ours(
        self, gateway: CashfreeGateway
    ) -> None:
        request = await create(gateway)
        other = request.model_copy(update={"amount_minor": request.amount_minor + 1})
        with pytest.raises(GatewayConflict, match="another amount"):
            await gateway.create_order(other, idempotency_key=str(uuid.uuid4()))


class TestFaults:
    @pytest.mark.parametrize("status", [500, 502])
    async def test_server_errors_are_retried_until_success(
        self, gateway: CashfreeGateway, emu: RunningEmulator, status: int
    ) -> None:
        order = await paid_order(gateway, emu)
        await emu.control.fail_next_calls(status, count=2, operation="create_refund")  # type: ignore[arg-type]
        request = refund_of(order)
        refund = await gateway.create_refund(request, idempotency_key="r-" + request.refund_id)
        assert refund.refund_id == request.refund_id
        calls = await emu.control.calls(operation="create_refund")
        assert [c.status for c in calls] == [status, status, 200]
        assert len({c.idempotency_key for c in calls}) == 1
        assert len(await gateway.list_refunds(order.order_id)) == 1

    async def test_server_errors_beyond_the_retry_budget_surface(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        await emu.control.fail_next_calls(500, count=3, operation="get_order")
        with pytest.raises(GatewayServerError):
            await gateway.get_order("ord_any")
        assert len(await emu.control.calls(operation="get_order")) == 3

    async def test_hung_read_is_retried(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        request = await create(gateway)
        await emu.control.hold_next_calls("hang", HELD_SECONDS, count=1, operation="get_order")
        assert (await gateway.get_order(request.order_id)).order_id == request.order_id

    async def test_hung_reads_beyond_the_budget_time_out(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        await emu.control.hold_next_calls("hang", HELD_SECONDS, count=3, operation="get_order")
        with pytest.raises(GatewayTimeout):
            await gateway.get_order("ord_any")

    async def test_lost_create_order_answer_is_replayed_with_the_same_key(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        request = new_order()
        await emu.control.hold_next_calls("lose", HELD_SECONDS, operation="create_order")
        order = await gateway.create_order(request, idempotency_key="k-" + request.order_id)
        assert order.order_id == request.order_id
        calls = await emu.control.calls(operation="create_order")
        assert [c.replayed for c in calls] == [False, True]

    async def test_lost_create_order_answer_is_found_by_lookup(
        self, make_gateway: MakeGateway, emu: RunningEmulator
    ) -> None:
        gateway = make_gateway(max_retries=0)
        request = new_order()
        await emu.control.hold_next_calls("lose", HELD_SECONDS, operation="create_order")
        order = await gateway.create_order(request, idempotency_key="k-" + request.order_id)
        assert order.amount_minor == request.amount_minor
        assert [c.operation for c in await emu.control.calls()] == ["create_order", "get_order"]

    async def test_lost_create_refund_answer_is_replayed_with_the_same_key(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        order = await paid_order(gateway, emu)
        request = refund_of(order)
        await emu.control.hold_next_calls("lose", HELD_SECONDS, operation="create_refund")
        refund = await gateway.create_refund(request, idempotency_key="r-" + request.refund_id)
        assert refund.refund_id == request.refund_id
        assert len(await gateway.list_refunds(order.order_id)) == 1

    async def test_lost_create_refund_answer_is_found_by_lookup(
        self, make_gateway: MakeGateway, emu: RunningEmulator
    ) -> None:
        gateway = make_gateway(max_retries=0)
        order = await paid_order(gateway, emu)
        request = refund_of(order)
        await emu.control.hold_next_calls("lose", HELD_SECONDS, operation="create_refund")
        refund = await gateway.create_refund(request, idempotency_key="r-" + request.refund_id)
        assert refund.refund_id == request.refund_id

    async def test_short_rate_limit_is_waited_out(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        request = await create(gateway)
        await emu.control.fail_next_calls(429, operation="get_order", retry_after_seconds=1)
        started = asyncio.get_running_loop().time()
        await gateway.get_order(request.order_id)
        assert asyncio.get_running_loop().time() - started >= 1

    async def test_long_rate_limit_is_handed_to_the_caller(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        await emu.control.fail_next_calls(429, operation="get_order", retry_after_seconds=30)
        with pytest.raises(GatewayRateLimited) as raised:
            await gateway.get_order("ord_any")
        assert raised.value.retry_after == 30

    async def test_merchant_rate_limit(
        self, make_gateway: MakeGateway, emu: RunningEmulator
    ) -> None:
        await emu.control.add_merchant("TEST_APP_ID", "TEST_SECRET_KEY", rate_limit_per_minute=2)
        gateway = make_gateway(max_retries=0)
        for _ in range(2):
            with pytest.raises(GatewayNotFound):
                await gateway.get_order("ord_any")
        with pytest.raises(GatewayRateLimited) as raised:
            await gateway.get_order("ord_any")
        assert raised.value.retry_after >= 1


class TestWebhookSignatures:
    async def test_emulator_webhooks_verify_with_our_function(
        self, gateway: CashfreeGateway, emu: RunningEmulator
    ) -> None:
        await paid_order(gateway, emu)
        [attempt, *_] = await emu.control.wait_for_events(1, type="PAYMENT_SUCCESS_WEBHOOK")
        headers = {k.lower(): v for k, v in attempt.headers.items()}
        verify_webhook_signature(
            attempt.body.encode(),
            headers["x-webhook-signature"],
            headers["x-webhook-timestamp"],
            [b"OLD_SECRET", b"TEST_SECRET_KEY"],
            tolerance_ms=300_000,
        )
