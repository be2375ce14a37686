"""The reconciler's jobs against the real database and the Cashfree emulator."""

from datetime import UTC, datetime, timedelta

from cashfree_emulator.testing import RunningEmulator
from paycore.alerts import AdminAlert
from paycore.gateway import CashfreeGateway
from paycore.kit.events import EventEnvelope
from paycore.kit.redis import redis_client
from paycore.kit.state import Evidence
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService
from paycore.reconciliation.engine import ReconciliationEngine
from paycore.reconciliation.models import DailyRollup
from paycore.reconciliation.rollups import RollupRecorder
from paycore.refunds.models import RefundStatus as R
from paycore.refunds.service import RefundService
from paycore.testing import isolated_settings
from recon_support import paid_at_gateway, refund_at_gateway


async def test_rollup_counts_each_event_once() -> None:
    settings = isolated_settings()
    redis = redis_client(settings)
    recorder = RollupRecorder(redis, settings.redis_prefix, failure_spike_per_minute=3)
    event = EventEnvelope(type="payment.success", data={"amount": 1_000})
    assert await recorder.record(event)
    assert not await recorder.record(event)
    for _ in range(3):
        await recorder.record(EventEnvelope(type="payment.failed", data={}))
    await redis.aclose()

    rollup = await DailyRollup.find_one(DailyRollup.event_type == "payment.success")
    assert rollup is not None
    assert (rollup.events, rollup.amount_total) == (1, 1_000)
    spikes = await AdminAlert.find(AdminAlert.kind == "payment_failure_spike").to_list()
    assert len(spikes) == 1


async def test_a_failure_spike_straddling_a_minute_raises_one_alert() -> None:
    # Counted per calendar minute, two failures before a minute's end and two after it were
    # two minutes of two: no spike. Any 60 s holds four.
    settings = isolated_settings()
    redis = redis_client(settings)
    recorder = RollupRecorder(redis, settings.redis_prefix, failure_spike_per_minute=4)
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    for offset in (-0.4, -0.2, 0.2, 0.4, 0.6):  # the fifth failure is the same spike
        occurred = minute + timedelta(seconds=offset)
        await recorder.record(EventEnvelope(type="payment.failed", occurred_at=occurred))
    [spike] = await AdminAlert.find(AdminAlert.kind == "payment_failure_spike").to_list()
    assert spike.detail["failures"] == 4
    # Failures long past (a backlog delivered late) are no spike now.
    long_ago = minute - timedelta(minutes=10)
    for _ in range(4):
        await recorder.record(EventEnvelope(type="payment.failed", occurred_at=long_ago))
    await redis.aclose()
    assert await AdminAlert.find(AdminAlert.kind == "payment_failure_spike").count() == 1


async def test_a_failure_spike_is_seen_whatever_order_its_failures_arrive_in() -> None:
    # Consumers and the outbox's sweep deliver out of order: a spike's latest failure may
    # arrive before the others, and is still one of three failures within 60 s.
    settings = isolated_settings()
    redis = redis_client(settings)
    recorder = RollupRecorder(redis, settings.redis_prefix, failure_spike_per_minute=3)
    now = datetime.now(UTC)
    # 60 s apart at the ends: never three in any 60 s, in any order.
    for seconds_ago in (90, 150, 120):
        occurred = now - timedelta(seconds=seconds_ago)
        await recorder.record(EventEnvelope(type="payment.failed", occurred_at=occurred))
    assert await AdminAlert.find(AdminAlert.kind == "payment_failure_spike").count() == 0
    for seconds_ago in (8, 10, 9):
        occurred = now - timedelta(seconds=seconds_ago)
        await recorder.record(EventEnvelope(type="payment.failed", occurred_at=occurred))
    await redis.aclose()
    [spike] = await AdminAlert.find(AdminAlert.kind == "payment_failure_spike").to_list()
    assert spike.detail["failures"] == 3


async def test_a_reversed_refund_restores_what_can_be_refunded(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payment = await paid_at_gateway(gateway, emulator)
    refunds = RefundService()
    refund = await refunds.request(
        payment, amount=4_000, reason="returned", user_id=payment.user_id, idempotency_key="k-rev"
    )
    await refund_at_gateway(gateway, payment.order_id, refund.refund_id, 4_000, note="PENDING")
    await emulator.control.resolve_refund(payment.order_id, refund.refund_id, "SUCCESS")
    answer = await gateway.get_refund(payment.order_id, refund.refund_id)
    await refunds.apply_gateway_refund(answer, Evidence(source="worker"))
    refunded = await PaymentService().get(payment.payment_id)
    assert (refunded.status, refunded.refundable_amount) == (P.PARTIALLY_REFUNDED, 6_000)
    await emulator.control.settle(payment.order_id)
    # The customer's bank sends the refund back: recon shows a REFUND_REVERSAL credit.
    await emulator.control.reverse_refund(payment.order_id, refund.refund_id)

    now = datetime.now(UTC)
    for _ in range(2):  # a second run changes nothing
        await ReconciliationEngine(gateway).run(now - timedelta(hours=1), now)

    assert (await refunds.get(refund.refund_id)).status == R.REVERSED
    restored = await PaymentService().get(payment.payment_id)
    assert (restored.status, restored.refunded_amount, restored.refundable_amount) == (
        P.SUCCESS,
        0,
        10_000,
    )
    assert restored.reversed_refunds == [refund.refund_id]
    alerts = await AdminAlert.find(AdminAlert.kind == "refund_reversed").to_list()
    assert [a.detail["refund_id"] for a in alerts] == [refund.refund_id]
