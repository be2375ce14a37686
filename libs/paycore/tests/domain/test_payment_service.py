import asyncio

import pytest
from paycore.gateway.schemas import AttemptStatus
from paycore.gateway.schemas import Payment as GatewayAttempt
from paycore.kit.state import Evidence, InvalidTransition
from paycore.payments.errors import AmountMismatch
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService
from paycore.testing import create_payment

pytestmark = pytest.mark.usefixtures("domain_db")

WEBHOOK = Evidence(source="webhook", reference="whl_1")


def attempt(order_id: str, status: AttemptStatus, amount: int = 10_000) -> GatewayAttempt:
    return GatewayAttempt(
        order_id=order_id,
        gateway_payment_id="cf_1",
        status=status,
        amount_minor=amount,
        currency="INR",
        payment_method="upi",
    )


class TestTransition:
    async def test_moves_state_with_history_and_outbox(self) -> None:
        payment = await create_payment(status=P.PENDING)
        outcome = await PaymentService().transition(payment.payment_id, P.PROCESSING, WEBHOOK)
        assert outcome.changed
        assert outcome.payment.status == P.PROCESSING
        assert outcome.payment.version == payment.version + 1
        assert outcome.payment.history[-1].evidence.reference == "whl_1"
        assert [e.envelope.type for e in outcome.payment.outbox] == ["payment.processing"]

    async def test_duplicate_changes_nothing(self) -> None:
        payment = await create_payment(status=P.PENDING)
        service = PaymentService()
        await service.transition(payment.payment_id, P.PROCESSING, WEBHOOK)
        again = await service.transition(payment.payment_id, P.PROCESSING, WEBHOOK)
        assert not again.changed
        assert again.reason == "duplicate"
        assert len(again.payment.outbox) == 1

    async def test_invalid_transition_is_refused_without_side_effects(self) -> None:
        payment = await create_payment(status=P.SUCCESS)
        with pytest.raises(InvalidTransition):
            await PaymentService().transition(payment.payment_id, P.PENDING, WEBHOOK)
        stored = await PaymentService().get(payment.payment_id)
        assert (stored.status, stored.version, stored.history, stored.outbox) == (
            P.SUCCESS,
            payment.version,
            [],
            [],
        )

    async def test_concurrent_identical_transitions_apply_once(self) -> None:
        payment = await create_payment(status=P.PENDING)
        service = PaymentService()
        outcomes = await asyncio.gather(
            *(service.transition(payment.payment_id, P.SUCCESS, WEBHOOK) for _ in range(20))
        )
        assert sum(o.changed for o in outcomes) == 1
        stored = await service.get(payment.payment_id)
        assert [e.envelope.type for e in stored.outbox].count("payment.success") == 1


class TestApplyAttempt:
    async def test_success_captures_the_amount(self) -> None:
        payment = await create_payment(status=P.PENDING)
        outcome = await PaymentService().apply_attempt(
            attempt(payment.order_id, AttemptStatus.SUCCEEDED), WEBHOOK
        )
        assert outcome.payment.status == P.SUCCESS
        assert outcome.payment.captured_amount == outcome.payment.refundable_amount == 10_000
        types = [e.envelope.type for e in outcome.payment.outbox]
        assert types == ["payment.success", "email.payment.success", "analytics.payment.success"]

    async def test_late_failure_does_not_undo_success(self) -> None:
        payment = await create_payment(status=P.PENDING)
        service = PaymentService()
        await service.apply_attempt(attempt(payment.order_id, AttemptStatus.SUCCEEDED), WEBHOOK)
        late = await service.apply_attempt(attempt(payment.order_id, AttemptStatus.FAILED), WEBHOOK)
        assert not late.changed
        stored = await service.get(payment.payment_id)
        assert stored.status == P.SUCCESS
        assert stored.history[-1].ignored
        assert stored.history[-1].to_status == "FAILED"

    async def test_amount_mismatch_never_marks_success(self) -> None:
        payment = await create_payment(status=P.PENDING)
        with pytest.raises(AmountMismatch):
            await PaymentService().apply_attempt(
                attempt(payment.order_id, AttemptStatus.SUCCEEDED, amount=1), WEBHOOK
            )
        assert (await PaymentService().get(payment.payment_id)).status == P.PENDING

    async def test_user_dropped_is_a_failure_with_its_reason(self) -> None:
        payment = await create_payment(status=P.PENDING)
        outcome = await PaymentService().apply_attempt(
            attempt(payment.order_id, AttemptStatus.ABANDONED), WEBHOOK
        )
        assert outcome.payment.status == P.FAILED
        assert outcome.payment.failure_reason == "USER_DROPPED"
