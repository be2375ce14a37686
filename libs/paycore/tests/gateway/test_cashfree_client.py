from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paycore.gateway import (
    CashfreeGateway,
    GatewayAttemptStatus,
    GatewayAuthError,
    GatewayConflict,
    GatewayCustomer,
    GatewayError,
    GatewayIdempotencyError,
    GatewayInvalidResponse,
    GatewayNotFound,
    GatewayOrderRequest,
    GatewayOrderStatus,
    GatewayOutcomeUnknown,
    GatewayRateLimited,
    GatewayReconEventStatus,
    GatewayReconEventType,
    GatewayReconQuery,
    GatewayRefundRequest,
    GatewayRefundStatus,
    GatewayServerError,
    GatewaySettlementQuery,
    GatewaySettlementStatus,
    GatewayTimeout,
    GatewayUnavailable,
    GatewayValidationError,
    RetryPolicy,
    idempotency_key,
)
from paycore.kit.context import bound_ids
from paycore.kit.errors import AppError
from paycore.kit.settings import CashfreeSettings
from prometheus_client import REGISTRY

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeCashfree:
    """A scripted gateway: answers from a queue, or from a handler; records requests."""

    handler: Handler | None = None
    answers: list[httpx.Response | Exception] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        assert self.handler is not None, f"unexpected request {request.method} {request.url}"
        return self.handler(request)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def settings() -> CashfreeSettings:
    return CashfreeSettings(
        cashfree_app_id="TEST_APP_ID",
        cashfree_secret_key="TEST_SECRET_KEY",  # type: ignore[arg-type]
        cashfree_base_url="http://cashfree.test/pg",  # type: ignore[arg-type]
        cashfree_max_retries=2,
    )


@pytest.fixture
def fake() -> FakeCashfree:
    return FakeCashfree()


@pytest.fixture
async def gateway(settings: CashfreeSettings, fake: FakeCashfree) -> AsyncIterator[CashfreeGateway]:
    policy = RetryPolicy(max_retries=2, base_delay=0.2, max_delay=2.0, rng=random.Random(7))
    client = CashfreeGateway(
        settings, transport=httpx.MockTransport(fake), retry_policy=policy, sleep=fake.sleep
    )
    yield client
    await client.aclose()


def cf_error(
    status: int, code: str, type_: str = "invalid_request_error", **headers: str
) -> httpx.Response:
    body = {"message": f"{code} happened", "code": code, "type": type_, "help": "see docs"}
    return httpx.Response(status, json=body, headers=headers)


def order_json(
    order_id: str = "ord_1", amount: str = "10.34", status: str = "ACTIVE", currency: str = "INR"
) -> bytes:
    # Raw bytes so the amount is a JSON number written exactly as Cashfree would.
    return (
        f'{{"cf_order_id":2149460581,"order_id":"{order_id}","entity":"order",'
        f'"order_amount":{amount},"order_currency":"{currency}","order_status":"{status}",'
        f'"payment_session_id":"session_abc","created_at":"2023-08-11T18:02:46+05:30",'
        f'"order_expiry_time":"2023-09-09T18:02:46+05:30","unknown_field":{{"x":1}}}}'
    ).encode()


def refund_json(
    refund_id: str = "rfd_1", amount: str = "5.00", status: str = "PENDING", order_id: str = "ord_1"
) -> bytes:
    return (
        f'{{"cf_refund_id":11325632,"cf_payment_id":789727431,"refund_id":"{refund_id}",'
        f'"order_id":"{order_id}","refund_amount":{amount},"refund_currency":"INR",'
        f'"entity":"refund","refund_status":"{status}","refund_arn":null,'
        f'"refund_speed":{{"requested":"STANDARD","accepted":"STANDARD","processed":null}},'
        f'"created_at":"2022-02-28T12:54:25+05:30","processed_at":null}}'
    ).encode()


def ok(content: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(
        200, content=content, headers={"content-type": "application/json", **headers}
    )


def order_request(amount_minor: int = 1034, order_id: str = "ord_1") -> GatewayOrderRequest:
    return GatewayOrderRequest(
        order_id=order_id,
        amount_minor=amount_minor,
        currency="INR",
        customer=GatewayCustomer(customer_id="usr_1", phone="9898989898", email="a@example.com"),
        return_url="https://shop.example/return",
    )


def refund_request(amount_minor: int = 500) -> GatewayRefundRequest:
    return GatewayRefundRequest(
        order_id="ord_1", refund_id="rfd_1", amount_minor=amount_minor, currency="INR"
    )


KEY = idempotency_key("create_order", "ord_1")


class TestHeaders:
    async def test_every_call_carries_credentials_version_and_request_id(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [ok(order_json())]
        await gateway.get_order("ord_1", request_id="req_explicit")
        sent = fake.requests[0]
        assert sent.url == "http://cashfree.test/pg/orders/ord_1"
        assert sent.headers["x-client-id"] == "TEST_APP_ID"
        assert sent.headers["x-client-secret"] == "TEST_SECRET_KEY"
        assert sent.headers["x-api-version"] == "2025-01-01"
        assert sent.headers["x-request-id"] == "req_explicit"
        assert "x-idempotency-key" not in sent.headers

    async def test_request_id_comes_from_the_context_else_is_generated(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [ok(order_json()), ok(order_json())]
        with bound_ids("req_from_edge", None, None):
            await gateway.get_order("ord_1")
        await gateway.get_order("ord_1")
        assert fake.requests[0].headers["x-request-id"] == "req_from_edge"
        assert fake.requests[1].headers["x-request-id"].startswith("req_")
        assert fake.requests[1].headers["x-request-id"] != "req_from_edge"

    async def test_mutating_calls_carry_the_callers_idempotency_key(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [ok(order_json()), ok(order_json(status="TERMINATED")), ok(refund_json())]
        await gateway.create_order(order_request(), idempotency_key=KEY)
        await gateway.terminate_order("ord_1", idempotency_key="key-terminate")
        await gateway.create_refund(refund_request(), idempotency_key="key-refund")
        assert [r.headers["x-idempotency-key"] for r in fake.requests] == [
            KEY,
            "key-terminate",
            "key-refund",
        ]
        assert fake.requests[1].method == "PATCH"
        assert json.loads(fake.requests[1].content) == {"order_status": "TERMINATED"}

    async def test_order_amount_is_sent_as_a_bare_two_decimal_number(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [ok(order_json(amount="170.00"))]
        order = await gateway.create_order(order_request(17000), idempotency_key=KEY)
        body = fake.requests[0].content
        assert b'"order_amount":170.00' in body
        assert json.loads(body)["customer_details"]["customer_phone"] == "9898989898"
        assert order.amount_minor == 17000
        assert order.status is GatewayOrderStatus.OPEN
        assert order.gateway_order_id == "2149460581"  # a number on the wire, a string here


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "code", "error_type"),
        [
            (400, "order_amount_invalid", GatewayValidationError),
            (401, "request_failed", GatewayAuthError),
            (404, "order_not_found", GatewayNotFound),
            (409, "order_already_exists", GatewayConflict),
            (422, "idempotency_error", GatewayIdempotencyError),
            (500, "internal_error", GatewayServerError),
            (502, "bank_processing_failure", GatewayServerError),
        ],
    )
    async def test_cashfree_error_bodies_become_typed_errors(
        self,
        gateway: CashfreeGateway,
        fake: FakeCashfree,
        status: int,
        code: str,
        error_type: type[GatewayError],
    ) -> None:
        fake.handler = lambda _: cf_error(status, code)
        with pytest.raises(error_type) as raised:
            await gateway.get_refund("ord_1", "rfd_1")
        assert raised.value.gateway_code == code
        assert raised.value.http_status == status
        assert isinstance(raised.value, AppError)

    async def test_validation_error_keeps_cashfree_code_in_details(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [cf_error(400, "customer_phone_invalid")]
        with pytest.raises(GatewayValidationError) as raised:
            await gateway.create_order(order_request(), idempotency_key=KEY)
        assert raised.value.details["gateway_code"] == "customer_phone_invalid"
        assert len(fake.requests) == 1  # a 400 is never retried

    async def test_rate_limit_carries_retry_after_seconds(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.handler = lambda _: cf_error(
            429, "rate_limit", "rate_limit_error", **{"x-ratelimit-retry": "30"}
        )
        with pytest.raises(GatewayRateLimited) as raised:
            await gateway.get_order("ord_1")
        assert raised.value.retry_after == 30
        assert raised.value.headers["Retry-After"] == "30"
        assert raised.value.retryable
        assert len(fake.requests) == 1  # longer than the cap: handed to the caller, not slept on

    async def test_read_timeout_is_an_unknown_outcome(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.handler = _raise(httpx.ReadTimeout("slow"))
        with pytest.raises(GatewayTimeout) as raised:
            await gateway.get_order("ord_1")
        assert raised.value.outcome_unknown
        assert isinstance(raised.value.__cause__, httpx.ReadTimeout)

    async def test_connect_error_means_unavailable(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.handler = _raise(httpx.ConnectError("refused"))
        with pytest.raises(GatewayUnavailable) as raised:
            await gateway.get_order("ord_1")
        assert raised.value.retryable
        assert isinstance(raised.value.__cause__, httpx.ConnectError)
        assert len(fake.requests) == 3

    async def test_garbage_success_body_is_an_invalid_response(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [httpx.Response(200, content=b"<html>")]
        with pytest.raises(GatewayInvalidResponse):
            await gateway.get_order("ord_1")

    async def test_amount_with_excess_precision_is_refused_not_rounded(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [ok(order_json(amount="10.345"))]
        with pytest.raises(GatewayInvalidResponse):
            await gateway.get_order("ord_1")

    async def test_proxy_error_page_still_maps_by_status(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.handler = lambda _: httpx.Response(502, content=b"<html>bad gateway</html>")
        with pytest.raises(GatewayServerError):
            await gateway.get_order("ord_1")


def _raise(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


class TestRetryPolicy:
    async def test_reads_are_retried_on_server_errors_then_succeed(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [
            cf_error(500, "api_error", "api_error"),
            cf_error(502, "bank_processing_failure", "api_error"),
            ok(order_json()),
        ]
        order = await gateway.get_order("ord_1")
        assert order.order_id == "ord_1"
        assert len(fake.requests) == 3
        assert len(fake.sleeps) == 2

    async def test_attempts_are_bounded(self, gateway: CashfreeGateway, fake: FakeCashfree) -> None:
        fake.handler = lambda _: cf_error(500, "api_error", "api_error")
        with pytest.raises(GatewayServerError):
            await gateway.list_payments("ord_1")
        assert len(fake.requests) == 3  # 1 + max_retries

    async def test_same_request_id_and_key_on_every_attempt(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [cf_error(500, "api_error", "api_error"), ok(order_json())]
        await gateway.create_order(order_request(), idempotency_key=KEY, request_id="req_1")
        assert {r.headers["x-idempotency-key"] for r in fake.requests} == {KEY}
        assert {r.headers["x-request-id"] for r in fake.requests} == {"req_1"}
        assert fake.requests[0].content == fake.requests[1].content

    async def test_write_timeout_is_retried_with_the_same_key(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [httpx.ReadTimeout("lost"), ok(refund_json())]
        refund = await gateway.create_refund(refund_request(), idempotency_key="key-r")
        assert refund.refund_id == "rfd_1"
        assert [r.headers["x-idempotency-key"] for r in fake.requests] == ["key-r", "key-r"]

    async def test_client_errors_are_not_retried(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.handler = lambda _: cf_error(404, "order_not_found")
        with pytest.raises(GatewayNotFound):
            await gateway.get_order("ord_x")
        assert len(fake.requests) == 1
        assert fake.sleeps == []

    async def test_rate_limit_waits_the_time_cashfree_asks_for(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [
            cf_error(429, "rate_limit", "rate_limit_error", **{"x-ratelimit-retry": "2"}),
            ok(order_json()),
        ]
        await gateway.get_order("ord_1")
        assert 2 <= fake.sleeps[0] <= 2 + 0.2

    async def test_search_posts_are_reads_and_retried(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [
            cf_error(500, "api_error", "api_error"),
            ok(b'{"cursor":null,"limit":10,"data":[]}'),
        ]
        page = await gateway.pg_recon(
            GatewayReconQuery(
                start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 1, 2, tzinfo=UTC)
            )
        )
        assert page.entries == []
        assert "x-idempotency-key" not in fake.requests[1].headers

    def test_write_without_key_is_not_repeated_after_timeout_or_server_error(self) -> None:
        policy = RetryPolicy(max_retries=3)
        assert not policy.should_retry(GatewayTimeout(), 0, repeat_is_safe=False)
        assert not policy.should_retry(GatewayServerError(), 0, repeat_is_safe=False)
        assert not policy.should_retry(GatewayRateLimited(retry_after=1), 0, repeat_is_safe=False)
        # A connect error never reached the gateway: always safe.
        assert policy.should_retry(GatewayUnavailable(), 0, repeat_is_safe=False)
        assert not policy.should_retry(GatewayUnavailable(), 3, repeat_is_safe=True)

    @given(attempt=st.integers(min_value=0, max_value=20), seed=st.integers())
    def test_jitter_stays_within_the_backoff_ceiling(self, attempt: int, seed: int) -> None:
        policy = RetryPolicy(base_delay=0.2, max_delay=2.0, rng=random.Random(seed))
        delay = policy.delay(GatewayServerError(), attempt)
        assert 0 <= delay <= min(2.0, 0.2 * 2**attempt)

    def test_jitter_actually_varies(self) -> None:
        policy = RetryPolicy(base_delay=0.2, max_delay=2.0, rng=random.Random(1))
        assert len({policy.delay(GatewayServerError(), 3) for _ in range(20)}) > 1


class TestAlreadyExists:
    async def test_conflict_on_create_order_returns_the_existing_order(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [cf_error(409, "order_already_exists"), ok(order_json(status="PAID"))]
        order = await gateway.create_order(order_request(), idempotency_key=KEY)
        assert order.status is GatewayOrderStatus.PAID
        assert [r.method for r in fake.requests] == ["POST", "GET"]

    async def test_conflict_with_another_amount_is_never_returned_as_ours(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [cf_error(409, "order_already_exists"), ok(order_json(amount="99.00"))]
        with pytest.raises(GatewayConflict, match="another amount"):
            await gateway.create_order(order_request(), idempotency_key=KEY)

    async def test_conflict_with_another_currency_is_refused(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [cf_error(409, "order_already_exists"), ok(order_json(currency="USD"))]
        with pytest.raises(GatewayConflict):
            await gateway.create_order(order_request(), idempotency_key=KEY)

    async def test_refund_conflict_returns_the_existing_refund(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [
            cf_error(400, "refund_id_already_exists"),
            ok(refund_json(status="SUCCESS")),
        ]
        refund = await gateway.create_refund(refund_request(), idempotency_key="k")
        assert refund.status is GatewayRefundStatus.SUCCEEDED

    async def test_refund_not_allowed_stays_a_conflict(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [cf_error(409, "refund_not_allowed"), cf_error(404, "refund_not_found")]
        with pytest.raises(GatewayConflict) as raised:
            await gateway.create_refund(refund_request(), idempotency_key="k")
        assert raised.value.gateway_code == "refund_not_allowed"

    @pytest.mark.parametrize(
        ("answer", "create"),
        [
            (cf_error(409, "order_already_exists"), "create_order"),
            (cf_error(400, "refund_id_already_exists"), "create_refund"),
        ],
    )
    async def test_exists_but_not_found_is_an_unknown_outcome_not_a_refusal(
        self, gateway: CashfreeGateway, fake: FakeCashfree, answer: httpx.Response, create: str
    ) -> None:
        # The lookup right after a create can lag it: nothing here may read as "refused".
        fake.answers = [answer, cf_error(404, "not_found")]
        call = (
            gateway.create_order(order_request(), idempotency_key=KEY)
            if create == "create_order"
            else gateway.create_refund(refund_request(), idempotency_key="k")
        )
        with pytest.raises(GatewayOutcomeUnknown) as raised:
            await call
        assert raised.value.retryable
        assert not isinstance(raised.value, GatewayValidationError | GatewayConflict)

    async def test_lost_create_answer_is_found_by_lookup(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [httpx.ReadTimeout("lost")] * 3 + [ok(order_json())]
        order = await gateway.create_order(order_request(), idempotency_key=KEY)
        assert order.order_id == "ord_1"
        assert [r.method for r in fake.requests] == ["POST", "POST", "POST", "GET"]

    async def test_lost_create_answer_not_found_stays_unknown(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [httpx.ReadTimeout("lost")] * 3 + [cf_error(404, "order_not_found")]
        with pytest.raises(GatewayTimeout):
            await gateway.create_order(order_request(), idempotency_key=KEY)


class TestTolerantParsing:
    async def test_refund_failed_is_accepted(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [ok(refund_json(status="FAILED"))]
        refund = await gateway.get_refund("ord_1", "rfd_1")
        assert refund.status is GatewayRefundStatus.FAILED
        assert refund.gateway_refund_id == "11325632"
        assert refund.gateway_payment_id == "789727431"
        assert refund.amount_minor == 500

    @pytest.mark.parametrize(
        ("wire", "ours"),
        [
            ("SUCCESS", GatewayRefundStatus.SUCCEEDED),
            ("PENDING", GatewayRefundStatus.PENDING),
            ("CANCELLED", GatewayRefundStatus.CANCELLED),
            ("ONHOLD", GatewayRefundStatus.ON_HOLD),
            ("BRAND_NEW", GatewayRefundStatus.UNKNOWN),
        ],
    )
    async def test_every_refund_status(
        self, gateway: CashfreeGateway, fake: FakeCashfree, wire: str, ours: GatewayRefundStatus
    ) -> None:
        fake.answers = [ok(refund_json(status=wire))]
        assert (await gateway.get_refund("ord_1", "rfd_1")).status is ours

    @pytest.mark.parametrize(
        ("wire", "ours"),
        [
            ("PAYMENT", GatewayReconEventType.PAYMENT),
            ("REFUND_REVERSAL", GatewayReconEventType.REFUND_REVERSAL),
            ("OTHER_ADJUSTMENT", GatewayReconEventType.ADJUSTMENT),
            ("ADJUSTMENT", GatewayReconEventType.UNKNOWN),  # our name, not Cashfree's
            ("BRAND_NEW", GatewayReconEventType.UNKNOWN),
        ],
    )
    async def test_every_recon_event_type(
        self, gateway: CashfreeGateway, fake: FakeCashfree, wire: str, ours: GatewayReconEventType
    ) -> None:
        item = {"event_type": wire, "event_status": "SUCCESS", "event_amount": 1}
        fake.answers = [ok(json.dumps({"data": [item]}).encode())]
        query = GatewayReconQuery(
            start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 1, 2, tzinfo=UTC)
        )
        [entry] = (await gateway.pg_recon(query)).entries
        assert entry.event_type is ours

    @pytest.mark.parametrize(
        ("wire", "ours"),
        [
            ("ACTIVE", GatewayOrderStatus.OPEN),
            ("PAID", GatewayOrderStatus.PAID),
            ("EXPIRED", GatewayOrderStatus.EXPIRED),
            ("TERMINATED", GatewayOrderStatus.TERMINATED),
            ("TERMINATION_REQUESTED", GatewayOrderStatus.TERMINATING),
        ],
    )
    async def test_every_order_status(
        self, gateway: CashfreeGateway, fake: FakeCashfree, wire: str, ours: GatewayOrderStatus
    ) -> None:
        fake.answers = [ok(order_json(status=wire))]
        assert (await gateway.get_order("ord_1")).status is ours

    async def test_string_refund_speed_is_accepted(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [
            ok(
                refund_json().replace(
                    b'{"requested":"STANDARD","accepted":"STANDARD","processed":null}', b'"INSTANT"'
                )
            )
        ]
        assert (await gateway.get_refund("ord_1", "rfd_1")).refund_id == "rfd_1"

    async def test_payments_with_numeric_ids_and_null_strings(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        statuses = [
            "SUCCESS",
            "NOT_ATTEMPTED",
            "FAILED",
            "USER_DROPPED",
            "VOID",
            "CANCELLED",
            "PENDING",
        ]
        items = [
            f'{{"cf_payment_id":{1000 + i},"order_id":"ord_1","payment_status":"{s}",'
            f'"payment_amount":10.01,"payment_currency":"INR","auth_id":"null","bank_reference":"NA",'
            f'"payment_method":{{"upi":{{"channel":"collect"}}}},"payment_time":"2021-07-23T12:15:06+05:30",'
            f'"error_details":{{"error_code":"TRANSACTION_DECLINED","error_reason":"auth_declined"}}}}'
            for i, s in enumerate(statuses)
        ]
        fake.answers = [ok(("[" + ",".join(items) + "]").encode())]
        payments = await gateway.list_payments("ord_1")
        assert [p.status for p in payments] == [
            GatewayAttemptStatus.SUCCEEDED,
            GatewayAttemptStatus.NOT_ATTEMPTED,
            GatewayAttemptStatus.FAILED,
            GatewayAttemptStatus.ABANDONED,
            GatewayAttemptStatus.VOIDED,
            GatewayAttemptStatus.CANCELLED,
            GatewayAttemptStatus.PENDING,
        ]
        first = payments[0]
        assert first.gateway_payment_id == "1000"
        assert first.amount_minor == 1001
        assert first.auth_id is None
        assert first.bank_reference is None
        assert first.payment_method == "upi"
        assert first.error is not None
        assert first.error.code == "TRANSACTION_DECLINED"

    @pytest.mark.parametrize(
        "body",
        [
            b'{"cf_settlement_id":"42","order_id":"ord_1","order_amount":100,"service_charge":10,"service_tax":1.8,"settlement_amount":88.2,"settlement_currency":"INR","transfer_utr":"UTR1","transfer_time":"2025-02-14T12:35:19+05:30"}',
            b'[{"cf_settlement_id":42,"order_id":"ord_1","order_amount":100,"service_charge":10,"service_tax":1.8,"settlement_amount":88.2,"transfer_utr":"UTR1"}]',
            b'{"cursor":null,"limit":10,"data":[{"cf_settlement_id":"42","order_id":"ord_1","order_amount":100,"service_charge":10,"service_tax":1.8,"settlement_amount":88.2,"transfer_utr":"UTR1"}]}',
            b'{"order_id":"ord_1","order_amount":100,"settlement_details":{"status":"SUCCESS","cf_settlement_id":42,"settlement_utr":"UTR1"},"service_charge":10,"service_tax":1.8,"settlement_amount":88.2}',
        ],
        ids=["object", "list", "page", "nested"],
    )
    async def test_settlements_in_every_shape(
        self, gateway: CashfreeGateway, fake: FakeCashfree, body: bytes
    ) -> None:
        fake.answers = [ok(body)]
        [settlement] = await gateway.get_order_settlements("ord_1")
        assert settlement.gateway_settlement_id == "42"
        assert settlement.settlement_amount_minor == 8820
        assert settlement.service_tax_minor == 180
        assert settlement.utr == "UTR1"
        assert settlement.status is GatewaySettlementStatus.SETTLED

    async def test_list_settlements_sends_filters_and_reads_the_cursor(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        fake.answers = [
            ok(b'{"cursor":"abc","limit":10,"data":[{"cf_settlement_id":1,"settlement_amount":1}]}')
        ]
        page = await gateway.list_settlements(GatewaySettlementQuery(utrs=["UTR1"], limit=10))
        assert page.cursor == "abc"
        assert json.loads(fake.requests[0].content) == {
            "pagination": {"limit": 10},
            "filters": {"settlement_utrs": ["UTR1"]},
        }

    async def test_recon_flat_and_nested_items(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        flat = b'{"event_id":"e1","event_type":"PAYMENT","event_status":"SUCCESS","sale_type":"CREDIT","event_amount":10.34,"event_settlement_amount":10.10,"event_currency":"INR","order_id":"ord_1","cf_payment_id":123,"cf_settlement_id":9,"settlement_utr":"U1"}'
        nested = b'{"event_details":{"event_id":"e2","event_type":"REFUND","event_status":"PENDING","sale_type":"DEBIT","event_amount":5,"event_currency":"INR"},"order_details":{"order_id":"ord_1"},"refund_details":{"refund_id":"rfd_1"},"settlement_details":{"cf_settlement_id":9,"utr":"U1"}}'
        fake.answers = [ok(b'{"cursor":null,"limit":10,"data":[' + flat + b"," + nested + b"]}")]
        page = await gateway.settlement_recon(
            GatewaySettlementQuery(
                start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 1, 2, tzinfo=UTC)
            )
        )
        first, second = page.entries
        assert (first.event_type, first.event_status, first.is_credit) == (
            GatewayReconEventType.PAYMENT,
            GatewayReconEventStatus.SUCCEEDED,
            True,
        )
        assert (first.amount_minor, first.settlement_amount_minor) == (1034, 1010)
        assert first.gateway_payment_id == "123"
        assert (second.event_type, second.is_credit, second.refund_id, second.settlement_utr) == (
            GatewayReconEventType.REFUND,
            False,
            "rfd_1",
            "U1",
        )
        assert second.amount_minor == 500
        body = json.loads(fake.requests[0].content)
        assert body["filters"] == {
            "start_date": "2025-01-01T00:00:00Z",
            "end_date": "2025-01-02T00:00:00Z",
        }


class TestMetrics:
    async def test_attempts_are_counted_by_operation_and_outcome(
        self, gateway: CashfreeGateway, fake: FakeCashfree
    ) -> None:
        def value(outcome: str) -> float:
            sample = REGISTRY.get_sample_value(
                "paycore_gateway_calls_total", {"operation": "get_refund", "outcome": outcome}
            )
            return sample or 0.0

        before_ok, before_err = value("ok"), value("gateway_server_error")
        fake.answers = [cf_error(500, "api_error", "api_error"), ok(refund_json())]
        await gateway.get_refund("ord_1", "rfd_1")
        assert value("ok") == before_ok + 1
        assert value("gateway_server_error") == before_err + 1
