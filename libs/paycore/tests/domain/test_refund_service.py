import asyncio

import pytest
from paycore.gateway.schemas import Refund as GatewayRefund
from paycore.gateway.schemas import RefundStatus as GatewayStatus
from paycore.invoices.models import InvoiceStatus
from paycore.invoices.sync import invoice_status
from paycore.kit.state import Evidence
from paycore.payments.errors import PaymentNotRefundable, RefundExceedsPayment
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService
from paycore.refunds.models import RefundSource
from paycore.refunds.models import RefundStatus as R
from paycore.refunds.service import RefundService
from paycore.testing import create_payment, unique_suffix

pytestmark = pytest.mark.usefixtures("domain_db")

GATEWAY = Evidence(source="webhook")


def gateway_refund(
    refund_id: str, order_id: str, status: GatewayStatus, amount: int
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
        payment = await create_payment(amount=10_000)
        service = RefundService()
        first = await request(service, payment.payment_id, 4_000)
        second = await request(service, payment.payment_id, None)
        for refund in (first, second):
            answer = gateway_refund(
                refund.refund_id, payment.order_id, GatewayStatus.SUCCEEDED, refund.amount
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
        payment = await create_payment(amount=10_000)
        service = RefundService()
        refund = await request(service, payment.payment_id, 3_000)
        answer = gateway_refund(refund.refund_id, payment.order_id, GatewayStatus.CANCELLED, 3_000)
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
        answer = gateway_refund(refund.refund_id, payment.order_id, GatewayStatus.ON_HOLD, 100)
        updated = await service.apply_gateway_refund(answer, GATEWAY)
        assert (updated.status, updated.gateway_status) == (R.INITIATED, "ON_HOLD")

    async def test_refund_made_in_the_dashboard_is_adopted(self) -> None:
        payment = await create_payment(amount=10_000)
        service = RefundService()
        answer = gateway_refund("dashboard_1", payment.order_id, GatewayStatus.SUCCEEDED, 2_500)
        refund = await service.apply_gateway_refund(answer, GATEWAY)
        assert (refund.source, refund.status) == (RefundSource.GATEWAY, R.SUCCESS)
        stored = await PaymentService().get(payment.payment_id)
        assert (stored.status, stored.refunded_amount) == (P.PARTIALLY_REFUNDED, 2_500)
