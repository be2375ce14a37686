import asyncio

import pytest
from paycore.alerts import AdminAlert
from paycore.gateway.schemas import GatewayAttemptStatus
from paycore.kit.errors import InvalidTransition
from paycore.kit.state import Evidence
from paycore.payments.errors import AmountMismatch
from paycore.payments.models import Payment
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService, TransitionOutcome
from paycore.testing import create_payment, gateway_attempt

pytestmark = pytest.mark.usefixtures("domain_db")

WEBHOOK = Evidence(source="webhook", reference="whl_1")


async def late_after_success(
    service: PaymentService, status: GatewayAttemptStatus
) -> TransitionOutcome:
    """A pending payment paid by one attempt, then an attempt in `status` arriving late."""
    payment = await create_payment(status=P.PENDING)
    await service.apply_attempt(
        gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED), WEBHOOK
    )
    return await service.apply_attempt(gateway_attempt(payment.order_id, status), WEBHOOK)


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
            gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED), WEBHOOK
        )
        assert outcome.payment.status == P.SUCCESS
        assert outcome.payment.captured_amount == outcome.payment.refundable_amount == 10_000
        types = [e.envelope.type for e in outcome.payment.outbox]
        assert types == ["payment.success", "email.payment.success", "analytics.payment.success"]

    async def test_late_failure_does_not_undo_success(self) -> None:
        service = PaymentService()
        late = await late_after_success(service, GatewayAttemptStatus.FAILED)
        assert not late.changed
        stored = await service.get(late.payment.payment_id)
        assert stored.status == P.SUCCESS
        assert stored.history[-1].ignored
        assert stored.history[-1].to_status == "SUCCESS"
        assert "FAILED" in (stored.history[-1].note or "")
        # Nobody is told the payment failed: it did not.
        assert "email.payment.failed" not in [e.envelope.type for e in stored.outbox]

    async def test_each_failed_attempt_reaches_the_fraud_count_once_whoever_notes_it(
        self,
    ) -> None:
        payment = await create_payment(status=P.PENDING)
        counted: list[str] = []

        async def count(failed: Payment) -> None:
            counted.append(failed.payment_id)

        service = PaymentService(on_attempt_failed=count)
        dropped = gateway_attempt(payment.order_id, GatewayAttemptStatus.ABANDONED)
        await service.apply_attempt(dropped, WEBHOOK)
        await service.apply_attempt(dropped, Evidence(source="verify"))  # the same, again
        await service.apply_attempt(
            dropped.model_copy(update={"gateway_payment_id": "cf_2"}), Evidence(source="verify")
        )
        assert counted == [payment.payment_id, payment.payment_id]

    async def test_amount_mismatch_never_marks_success(self) -> None:
        payment = await create_payment(status=P.PENDING)
        with pytest.raises(AmountMismatch):
            await PaymentService().apply_attempt(
                gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED, amount=1), WEBHOOK
            )
        assert (await PaymentService().get(payment.payment_id)).status == P.PENDING

    async def test_a_dropped_attempt_is_an_event_and_the_payment_stays_open(self) -> None:
        payment = await create_payment(status=P.PENDING)
        service = PaymentService()
        outcome = await service.apply_attempt(
            gateway_attempt(payment.order_id, GatewayAttemptStatus.ABANDONED), WEBHOOK
        )
        assert outcome.reason == "attempt_failed"
        assert outcome.payment.status == P.PENDING  # Cashfree's order is still payable
        assert outcome.payment.failed_attempts == ["cf_1"]
        assert "USER_DROPPED" in (outcome.payment.history[-1].note or "")
        types = [e.envelope.type for e in outcome.payment.outbox]
        assert types == [
            "payment.attempt_failed",
            "email.payment.failed",
            "analytics.payment.failed",
        ]
        failed = outcome.payment.outbox[1].envelope.data
        assert (failed["failure_reason"], failed["cf_payment_id"]) == ("USER_DROPPED", "cf_1")
        # The same attempt again (a redelivered webhook, a verify) announces nothing twice.
        again = await service.apply_attempt(
            gateway_attempt(payment.order_id, GatewayAttemptStatus.ABANDONED), WEBHOOK
        )
        assert len(again.payment.outbox) == 3
        # The customer pays on the same order after all.
        paid = await service.apply_attempt(
            gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED).model_copy(
                update={"gateway_payment_id": "cf_2"}
            ),
            WEBHOOK,
        )
        assert paid.payment.status == P.SUCCESS
        assert paid.reason is None

    async def test_an_offer_or_a_surcharge_is_a_success_not_a_mismatch(self) -> None:
        service = PaymentService()
        for paid, surcharge, offer in ((10_042, 42, 0), (9_000, 0, 1_000)):
            payment = await create_payment(status=P.PENDING)
            answer = gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED, amount=paid)
            answer = answer.model_copy(update={"order_amount_minor": 10_000})
            outcome = await service.apply_attempt(answer, WEBHOOK)
            stored = outcome.payment
            assert stored.status == P.SUCCESS
            assert (stored.payment_amount, stored.surcharge_amount, stored.offer_amount) == (
                paid,
                surcharge,
                offer,
            )

    async def test_the_order_amount_decides_a_mismatch(self) -> None:
        payment = await create_payment(status=P.PENDING)
        answer = gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED).model_copy(
            update={"order_amount_minor": 9_999}
        )
        with pytest.raises(AmountMismatch):
            await PaymentService().apply_attempt(answer, WEBHOOK)

    @pytest.mark.parametrize("held", [P.EXPIRED, P.CANCELLED, P.FAILED, P.CREATED])
    async def test_a_success_for_a_closed_payment_is_applied_and_alerted_once(
        self, held: P
    ) -> None:
        payment = await create_payment(status=held)
        service = PaymentService()
        outcome = await service.apply_attempt(
            gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED), WEBHOOK
        )
        assert outcome.changed
        assert outcome.reason == "contradiction"
        assert outcome.payment.status == P.SUCCESS
        assert outcome.payment.captured_amount == 10_000
        assert f"held {held.value}" in (outcome.payment.history[-1].note or "")
        await service.apply_attempt(
            gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED), WEBHOOK
        )
        alerts = await AdminAlert.find(AdminAlert.kind == "payment_success_after_close").to_list()
        assert [a.severity for a in alerts] == ["critical"]
        assert alerts[0].detail["payment_id"] == payment.payment_id

    async def test_a_second_capture_is_recorded_and_alerted_once(self) -> None:
        payment = await create_payment(status=P.PENDING)
        service = PaymentService()
        await service.apply_attempt(
            gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED), WEBHOOK
        )
        second = gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED).model_copy(
            update={"gateway_payment_id": "cf_2"}
        )
        for _ in range(2):
            outcome = await service.apply_attempt(second, WEBHOOK)
            assert outcome.reason == "second_capture"
        stored = await service.get(payment.payment_id)
        assert (stored.status, stored.captured_amount, stored.cf_payment_id) == (
            P.SUCCESS,
            10_000,
            "cf_1",
        )
        assert stored.extra_captures == ["cf_2"]
        alerts = await AdminAlert.find(AdminAlert.kind == "second_capture").to_list()
        assert len(alerts) == 1
        assert alerts[0].detail["extra_cf_payment_id"] == "cf_2"

    async def test_two_captures_at_once_are_a_capture_and_a_second_capture(self) -> None:
        service = PaymentService()
        payments = [await create_payment(status=P.PENDING) for _ in range(5)]

        async def two_at_once(payment: Payment) -> list[TransitionOutcome]:
            attempts = [
                gateway_attempt(payment.order_id, GatewayAttemptStatus.SUCCEEDED, 10_000, cf)
                for cf in ("cf_1", "cf_2")
            ]
            return await asyncio.gather(*(service.apply_attempt(a, WEBHOOK) for a in attempts))

        answers = await asyncio.gather(*(two_at_once(payment) for payment in payments))

        for payment, outcomes in zip(payments, answers, strict=True):
            stored = await service.get(payment.payment_id)
            assert (stored.status, stored.captured_amount) == (P.SUCCESS, 10_000)
            # Whichever captured, the other attempt's money is on record as received twice.
            other = {"cf_1": "cf_2", "cf_2": "cf_1"}[stored.cf_payment_id or ""]
            assert stored.extra_captures == [other]
            assert sorted((o.changed, o.reason) for o in outcomes) == [
                (False, "second_capture"),
                (True, None),
            ]

    async def test_a_pending_attempt_never_reopens_a_paid_payment(self) -> None:
        late = await late_after_success(PaymentService(), GatewayAttemptStatus.PENDING)
        assert late.payment.status == P.SUCCESS
