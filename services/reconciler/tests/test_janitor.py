"""The janitor against the real database and the Cashfree emulator: each payment re-checked on
its own schedule, failures kept to their payment, reservations repaired by their amount."""

from datetime import UTC, datetime, timedelta

from cashfree_emulator.testing import RunningEmulator
from paycore.gateway import CashfreeGateway
from paycore.kit.recheck import Recheck
from paycore.payments.models import Payment
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService
from paycore.reconciliation.janitor import Janitor
from paycore.refunds.execution import RefundExecutor
from paycore.refunds.models import Refund, RefundStatus
from paycore.refunds.service import RefundService
from paycore.testing import create_payment
from recon_support import order_in_gateway


def _due(payment: Payment) -> datetime:
    assert payment.recheck.due_at is not None
    return payment.recheck.due_at


async def _stored(payment: Payment) -> Payment:
    return await PaymentService().get(payment.payment_id)


async def test_dropped_success_webhook_is_healed_by_the_first_recheck(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payment = await create_payment(status=P.PENDING, amount=25_000)
    await emulator.control.webhook_fault("drop", event_type="PAYMENT_SUCCESS_WEBHOOK")
    await emulator.control.pay(await order_in_gateway(gateway, payment.order_id, 25_000))
    janitor = Janitor(gateway)

    # Not due yet: the first check is a minute after the payment was created.
    assert (await janitor.recheck_due_payments()).checked == 0
    assert _due(payment) - payment.created_at < timedelta(seconds=61)

    first = await janitor.recheck_due_payments(_due(payment))

    assert (first.checked, first.moved, first.failed) == (1, 1, 0)
    stored = await _stored(payment)
    assert (stored.status, stored.captured_amount) == (P.SUCCESS, 25_000)
    assert stored.history[-1].evidence.source == "reconciler"
    assert (stored.recheck.due_at, stored.recheck.phase) == (None, "DONE")


async def test_an_open_order_is_checked_with_backoff_then_its_expiry_closes_it(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payment = await create_payment(status=P.PENDING)
    await order_in_gateway(gateway, payment.order_id, payment.amount)
    janitor = Janitor(gateway)

    at = _due(await _stored(payment))  # as stored: the database keeps milliseconds
    gaps = []
    for _ in range(4):
        assert (await janitor.recheck_due_payments(at)).checked == 1
        # Checked once per pass: a second pass at the same time finds nothing due.
        assert (await janitor.recheck_due_payments(at)).checked == 0
        stored = await _stored(payment)
        gaps.append(_due(stored) - at)
        at = _due(stored)
    hour = timedelta(hours=1)
    assert gaps == [timedelta(minutes=5), timedelta(minutes=30), hour, hour]

    await emulator.control.expire_order(payment.order_id)
    await janitor.recheck_due_payments(at)

    expired = await _stored(payment)
    assert (expired.status, expired.recheck.phase) == (P.EXPIRED, "CLOSED_UNPAID")
    # Closed unpaid, its order may still be paid late: looked at again in an hour.
    assert _due(expired) - at == timedelta(hours=1)


async def test_an_expired_payment_whose_order_was_paid_late_turns_success(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    payment = await create_payment(
        status=P.EXPIRED, recheck=Recheck(due_at=now, phase="CLOSED_UNPAID", checks=1)
    )
    await emulator.control.pay(await order_in_gateway(gateway, payment.order_id, payment.amount))

    await Janitor(gateway).recheck_due_payments(now)

    stored = await _stored(payment)
    assert (stored.status, stored.captured_amount) == (P.SUCCESS, payment.amount)


async def test_one_gateway_error_leaves_the_other_payments_of_the_pass_processed(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    payments = []
    for offset in range(3):  # due oldest first: the first one hits the error
        payment = await create_payment(
            status=P.PENDING, recheck=Recheck(due_at=now - timedelta(minutes=3 - offset))
        )
        await emulator.control.pay(
            await order_in_gateway(gateway, payment.order_id, payment.amount)
        )
        payments.append(payment)
    await emulator.control.fail_next_calls(500, operation="get_order")

    result = await Janitor(gateway).recheck_due_payments(now)

    assert (result.checked, result.moved, result.failed) == (3, 2, 1)
    failed, *others = [await _stored(p) for p in payments]
    assert [p.status for p in others] == [P.SUCCESS, P.SUCCESS]
    assert failed.status == P.PENDING
    assert failed.recheck.last_error is not None
    assert "500" in failed.recheck.last_error
    # Retried on its own schedule, where it heals.
    assert _due(failed) == now + timedelta(minutes=5)
    retry = await Janitor(gateway).recheck_due_payments(_due(failed))
    assert (retry.checked, retry.failed) == (1, 0)
    healed = await _stored(failed)
    assert (healed.status, healed.recheck.last_error) == (P.SUCCESS, None)


async def test_a_pass_takes_the_oldest_due_in_bounded_batches(gateway: CashfreeGateway) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    payments = [
        await create_payment(
            status=P.PENDING, recheck=Recheck(due_at=now - timedelta(minutes=minutes))
        )
        for minutes in (1, 5, 3, 4, 2)
    ]

    result = await Janitor(gateway, batch=2, max_per_pass=3).recheck_due_payments(now)

    assert result.checked == 3
    checked = {p.payment_id for p in payments if (await _stored(p)).recheck.checks == 1}
    oldest = {payments[i].payment_id for i in (1, 3, 2)}  # due 5, 4 and 3 minutes ago
    assert checked == oldest


async def test_reservations_are_repaired_by_their_stored_amounts(
    gateway: CashfreeGateway,
) -> None:
    service = PaymentService()
    payment = await create_payment(amount=10_000)
    for refund_id, amount in (("rfd_lost_1", 1_000), ("rfd_lost_2", 2_500), ("rfd_done", 3_000)):
        assert await service.repository.reserve_refund(payment.payment_id, refund_id, amount)
    # rfd_done was recorded and succeeded, but its outcome never reached the payment.
    await Refund(
        refund_id="rfd_done",
        payment_id=payment.payment_id,
        order_id=payment.order_id,
        user_id=payment.user_id,
        idempotency_key="k",
        amount=3_000,
        currency="INR",
        status=RefundStatus.SUCCESS,
    ).insert()
    assert (await _stored(payment)).refundable_amount == 3_500

    repaired = await Janitor(gateway).repair_reservations(timedelta(0))

    assert repaired == 3
    stored = await _stored(payment)
    assert stored.refund_reservations == []
    assert (stored.refundable_amount, stored.refund_reserved_amount) == (7_000, 0)
    assert (stored.refunded_amount, stored.status) == (3_000, P.PARTIALLY_REFUNDED)
    # Nothing left to repair: a second sweep changes nothing.
    assert await Janitor(gateway).repair_reservations(timedelta(0)) == 0


async def test_a_refund_of_unknown_outcome_is_polled_with_backoff(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payment = await create_payment(status=P.SUCCESS, amount=10_000)
    attempt = await emulator.control.pay(await order_in_gateway(gateway, payment.order_id, 10_000))
    await PaymentService().repository.collection.update_one(
        {"_id": payment.payment_id}, {"$set": {"cf_payment_id": str(attempt["cf_payment_id"])}}
    )
    stored = await _stored(payment)
    refund = await RefundService().request(
        stored, amount=1_000, reason="r", user_id=stored.user_id, idempotency_key="k-poll"
    )
    await emulator.control.refund_fault("stays_pending")
    executor = RefundExecutor(gateway)
    await executor.submit(refund.refund_id)

    # First poll once untouched for the poll delay; it stays PENDING at the gateway.
    (due,) = await executor.poll_stale(timedelta(0))
    polled = await executor.poll(due)
    assert polled.status == RefundStatus.PROCESSING
    assert polled.recheck is not None
    assert polled.recheck.due_at is not None
    now = datetime.now(UTC)
    assert timedelta(minutes=59) < polled.recheck.due_at - now <= timedelta(hours=1)
    # Not asked again on the next passes, only when due.
    assert await executor.poll_stale(timedelta(0)) == []
    (again,) = await executor.poll_stale(timedelta(0), now=now + timedelta(hours=1))

    # A poll that fails is recorded on the refund and moves to the next step (daily).
    failed = await executor.schedule_next_poll(again, "GatewayServerError: 500")
    assert failed is not None
    assert failed.recheck is not None
    assert failed.recheck.last_error == "GatewayServerError: 500"
    assert failed.recheck.due_at is not None
    assert failed.recheck.due_at - datetime.now(UTC) > timedelta(hours=23)
