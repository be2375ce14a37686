import asyncio

import pytest
from paycore.alerts import AdminAlert
from paycore.gateway.schemas import GatewayRefund, GatewayRefundStatus
from paycore.invoices.models import InvoiceStatus
from paycore.invoices.sync import invoice_status
from paycore.kit.state import Evidence
from paycore.payments.errors import PaymentNotRefundable, RefundExceedsPayment
from paycore.payments.models import Payment
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService
from paycore.refunds.errors import RefundAmountMismatch
from paycore.refunds.models import Refund, RefundSource
from paycore.refunds.models import RefundStatus as R
from paycore.refunds.service import RefundService
from paycore.testing import create_payment, unique_suffix

pytestmark = pytest.mark.usefixtures("domain_db")

GATEWAY = Evidence(source="webhook")


def gateway_refund(
    refund_id: str, order_id: str, status: GatewayRefundStatus, amount: int
) -> GatewayRefund:
    return GatewayRefund(
        order_id=order_id,
        refund_id=refund_id,
        gateway_refund_id="cfr_1",
        gateway_payment_id="cf_1",
        amount_minor=amount,
        currency="INR",
        status=status,
    )


async def requested(amount: int) -> tuple[RefundService, Payment, Refund]:
    """A captured payment of 10 000 paise, and a refund of `amount` of it asked through the
    returned service."""
    payment = await create_payment(amount=10_000)
    service = RefundService()
    return service, payment, await request(service, payment.payment_id, amount)


async def request(service: RefundService, payment_id: str, amount: int | None):
    payment = await service.payments.get(payment_id)
    return await service.request(
        payment,
        amount=amount,
        reason="test",
        user_id=payment.user_id,
        idempotency_key=unique_suffix(),
    )


class TestRequest:
    async def test_twenty_concurrent_partial_refunds_never_exceed_the_payment(self) -> None:
        payment = await create_payment(amount=10_000)
        service = RefundService()
        amounts = [700, 1_300] * 10  # 20 requests, 20 000 asked for 10 000
        results = await asyncio.gather(
            *(request(service, payment.payment_id, amount) for amount in amounts),
            return_exceptions=True,
        )
        accepted = [r for r in results if not isinstance(r, Exception)]
        refused = [r for r in results if isinstance(r, Exception)]
        assert all(isinstance(r, RefundExceedsPayment) for r in refused)
        total = sum(refund.amount for refund in accepted)
        assert total <= 10_000
        stored = await service.payments.get(payment.payment_id)
        assert stored.refund_reserved_amount == total
        assert stored.refundable_amount == 10_000 - total
        # Exactly the requests that fit: whatever is left is smaller than every refused ask.
        assert all(r.details["requested"] > stored.refundable_amount for r in refused)

    async def test_same_idempotency_key_gives_the_same_refund(self) -> None:
        payment = await create_payment()
        service = RefundService()
        first, second = await asyncio.gather(
            *(
                service.request(
                    payment,
                    amount=100,
                    reason=None,
                    user_id=payment.user_id,
                    idempotency_key="same-key",
                )
                for _ in range(2)
            )
        )
        assert first.refund_id == second.refund_id
        stored = await service.payments.get(payment.payment_id)
        assert stored.refund_reserved_amount == 100

    async def test_omitted_amount_means_everything_refundable(self) -> None:
        payment = await create_payment(amount=5_000)
        refund = await request(RefundService(), payment.payment_id, None)
        assert refund.amount == 5_000

    async def test_unpaid_payment_is_not_refundable(self) -> None:
        payment = await create_payment(status=P.PENDING)
        with pytest.raises(PaymentNotRefundable):
            await request(RefundService(), payment.payment_id, 100)


class TestApplyGatewayRefund:
    async def test_partial_then_rest_ends_refunded_once(self) -> None:
        service, payment, first = await requested(4_000)
        second = await request(service, payment.payment_id, None)
        for refund in (first, second):
            answer = gateway_refund(
                refund.refund_id, payment.order_id, GatewayRefundStatus.SUCCEEDED, refund.amount
            )
            for _ in range(3):  # worker answer, webhook and poll all say the same
                await service.apply_gateway_refund(answer, GATEWAY)
        stored = await service.payments.get(payment.payment_id)
        assert stored.status == P.REFUNDED
        assert (stored.refunded_amount, stored.refund_reserved_amount) == (10_000, 0)
        assert invoice_status(stored) == InvoiceStatus.REFUNDED
        refunded_events = [e for e in stored.outbox if e.envelope.type == "payment.refunded"]
        assert len(refunded_events) == 2

    async def test_cancelled_refund_releases_the_reservation(self) -> None:
        service, payment, refund = await requested(3_000)
        answer = gateway_refund(
            refund.refund_id, payment.order_id, GatewayRefundStatus.CANCELLED, 3_000
        )
        await service.apply_gateway_refund(answer, GATEWAY)
        await service.apply_gateway_refund(answer, GATEWAY)
        stored = await service.payments.get(payment.payment_id)
        assert (stored.refundable_amount, stored.refund_reserved_amount) == (10_000, 0)
        assert stored.status == P.SUCCESS
        assert invoice_status(stored) == InvoiceStatus.REFUND_FAILED
        assert (await service.get(refund.refund_id)).status == R.CANCELLED

    async def test_pending_answer_only_records_the_gateway_status(self) -> None:
        payment = await create_payment()
        service = RefundService()
        refund = await request(service, payment.payment_id, 100)
        answer = gateway_refund(
            refund.refund_id, payment.order_id, GatewayRefundStatus.ON_HOLD, 100
        )
        updated = await service.apply_gateway_refund(answer, GATEWAY)
        assert (updated.status, updated.gateway_status) == (R.INITIATED, "ON_HOLD")

    async def test_refund_made_in_the_dashboard_is_adopted(self) -> None:
        payment = await create_payment(amount=10_000)
        service = RefundService()
        answer = gateway_refund(
            "dashboard_1", payment.order_id, GatewayRefundStatus.SUCCEEDED, 2_500
        )
        refund = await service.apply_gateway_refund(answer, GATEWAY)
        assert (refund.source, refund.status) == (RefundSource.GATEWAY, R.SUCCESS)
        stored = await PaymentService().get(payment.payment_id)
        assert (stored.status, stored.refunded_amount) == (P.PARTIALLY_REFUNDED, 2_500)


class TestContradictionsAndMismatches:
    @pytest.mark.parametrize("held", [GatewayRefundStatus.FAILED, GatewayRefundStatus.CANCELLED])
    async def test_a_success_for_a_refund_held_failed_is_applied_and_alerted_once(
        self, held: GatewayRefundStatus
    ) -> None:
        service, payment, refund = await requested(3_000)
        await service.apply_gateway_refund(
            gateway_refund(refund.refund_id, payment.order_id, held, 3_000), GATEWAY
        )
        released = await service.payments.get(payment.payment_id)
        assert released.refundable_amount == 10_000
        success = gateway_refund(
            refund.refund_id, payment.order_id, GatewayRefundStatus.SUCCEEDED, 3_000
        )
        for _ in range(3):  # the webhook, the poll and the worker all say it
            after = await service.apply_gateway_refund(success, GATEWAY)
        assert after.status == R.SUCCESS
        assert "held" in (after.history[-1].note or "")
        stored = await service.payments.get(payment.payment_id)
        # The money left: it counts against what can still be refunded, once.
        assert (stored.refunded_amount, stored.refundable_amount) == (3_000, 7_000)
        assert stored.status == P.PARTIALLY_REFUNDED
        assert stored.settled_refunds == [refund.refund_id]
        alerts = await AdminAlert.find(AdminAlert.kind == "refund_success_after_failure").to_list()
        assert [(a.severity, a.detail["refund_id"]) for a in alerts] == [
            ("critical", refund.refund_id)
        ]

    async def test_a_success_after_failure_beyond_refundable_still_counts(self) -> None:
        service, payment, failed = await requested(6_000)
        await service.apply_gateway_refund(
            gateway_refund(failed.refund_id, payment.order_id, GatewayRefundStatus.FAILED, 6_000),
            GATEWAY,
        )
        other = await request(service, payment.payment_id, 10_000)  # all of it, meanwhile
        await service.apply_gateway_refund(
            gateway_refund(
                other.refund_id, payment.order_id, GatewayRefundStatus.SUCCEEDED, 10_000
            ),
            GATEWAY,
        )
        await service.apply_gateway_refund(
            gateway_refund(
                failed.refund_id, payment.order_id, GatewayRefundStatus.SUCCEEDED, 6_000
            ),
            GATEWAY,
        )
        stored = await service.payments.get(payment.payment_id)
        assert (stored.refunded_amount, stored.refundable_amount) == (16_000, -6_000)
        assert stored.status == P.REFUNDED
        with pytest.raises(PaymentNotRefundable):
            await request(service, payment.payment_id, 1)

    @pytest.mark.parametrize("status", [GatewayRefundStatus.SUCCEEDED, GatewayRefundStatus.PENDING])
    async def test_another_amount_is_never_applied_on_any_path(
        self, status: GatewayRefundStatus
    ) -> None:
        service, payment, refund = await requested(3_000)
        answer = gateway_refund(refund.refund_id, payment.order_id, status, 3_001)
        for _ in range(2):
            with pytest.raises(RefundAmountMismatch):
                await service.apply_gateway_refund(answer, GATEWAY)
        assert (await service.get(refund.refund_id)).status == R.INITIATED
        stored = await service.payments.get(payment.payment_id)
        assert (stored.refunded_amount, stored.refund_reserved_amount) == (0, 3_000)
        alerts = await AdminAlert.find(AdminAlert.kind == "refund_amount_mismatch").to_list()
        assert len(alerts) == 1
        assert alerts[0].detail["reported_amount"] == 3_001

    async def test_a_dashboard_refund_beyond_refundable_still_counts_once(self) -> None:
        service, payment, mine = await requested(8_000)
        answer = gateway_refund(
            "dashboard_9", payment.order_id, GatewayRefundStatus.SUCCEEDED, 5_000
        )
        for _ in range(2):
            adopted = await service.apply_gateway_refund(answer, GATEWAY)
        assert (adopted.status, adopted.reserved) == (R.SUCCESS, False)
        stored = await service.payments.get(payment.payment_id)
        # The money left through the gateway: counted, even past what was refundable.
        assert (stored.refunded_amount, stored.refundable_amount) == (5_000, -3_000)
        assert mine.refund_id in stored.refund_reservations
        alerts = await AdminAlert.find(
            AdminAlert.kind == "external_refund_exceeds_refundable"
        ).to_list()
        assert [a.detail["refund_id"] for a in alerts] == ["dashboard_9"]
