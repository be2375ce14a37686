"""The reconciler's jobs against the real database and the Cashfree emulator."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cashfree_emulator.testing import RunningEmulator, running_emulator
from paycore.alerts import AdminAlert
from paycore.gateway import CashfreeGateway
from paycore.gateway.schemas import Customer, OrderRequest, idempotency_key
from paycore.kit.events import EventEnvelope
from paycore.kit.mongo import connect_mongo
from paycore.kit.redis import redis_client
from paycore.kit.settings import CashfreeSettings
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService
from paycore.reconciliation.models import DailyRollup, MismatchKind, ReconciliationItem
from paycore.reconciliation.rollups import RollupRecorder
from paycore.reconciliation.service import ReconciliationService
from paycore.testing import create_payment, isolated_settings
from pydantic import SecretStr
from reconciler.app import MODELS


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator() as emu:
        yield emu


@pytest.fixture
async def gateway(emulator: RunningEmulator) -> AsyncIterator[CashfreeGateway]:
    settings = CashfreeSettings(
        cashfree_app_id=emulator.app_id,
        cashfree_secret_key=SecretStr(emulator.secret_key),
        cashfree_base_url=emulator.api_url,  # type: ignore[arg-type]
    )
    client = CashfreeGateway(settings)
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
async def database() -> AsyncIterator[None]:
    settings = isolated_settings()
    client = await connect_mongo(settings, MODELS)
    yield
    await client.drop_database(settings.mongo_db)
    await client.close()


async def order_in_gateway(gateway: CashfreeGateway, order_id: str, amount: int) -> str:
    order = await gateway.create_order(
        OrderRequest(
            order_id=order_id,
            amount_minor=amount,
            currency="INR",
            customer=Customer(customer_id="cus_1", phone="9876543210"),
        ),
        idempotency_key=idempotency_key("create_order", order_id),
    )
    assert order.payment_session_id is not None
    return order.payment_session_id


async def test_stale_payment_whose_webhook_was_lost_is_moved_to_success(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payment = await create_payment(status=P.PENDING, amount=25_000)
    session = await order_in_gateway(gateway, payment.order_id, 25_000)
    await emulator.control.pay(session, "SUCCESS")

    moved = await ReconciliationService(gateway).verify_stale_payments(timedelta(0))

    assert moved == 1
    stored = await PaymentService().get(payment.payment_id)
    assert (stored.status, stored.captured_amount) == (P.SUCCESS, 25_000)
    assert stored.history[-1].evidence.source == "reconciler"


async def test_expired_order_expires_the_payment(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payment = await create_payment(status=P.PENDING)
    await order_in_gateway(gateway, payment.order_id, payment.amount)
    await emulator.control.expire_order(payment.order_id)

    await ReconciliationService(gateway).verify_stale_payments(timedelta(0))

    assert (await PaymentService().get(payment.payment_id)).status == P.EXPIRED


async def test_reconciliation_matches_heals_and_reports(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    known = await create_payment(status=P.PENDING, amount=10_000)
    await emulator.control.pay(await order_in_gateway(gateway, known.order_id, 10_000), "SUCCESS")
    await emulator.control.pay(await order_in_gateway(gateway, "ord_unknown_1", 5_000), "SUCCESS")
    for order_id in (known.order_id, "ord_unknown_1"):  # the report lists settled payments
        await emulator.control.settle(order_id)

    now = datetime.now(UTC)
    run = await ReconciliationService(gateway).reconcile(now - timedelta(hours=1), now)

    assert (run.status, run.checked, run.matched, run.mismatched) == ("DONE", 2, 1, 1)
    healed = await PaymentService().get(known.payment_id)
    assert (healed.status, healed.is_reconciled) == (P.SUCCESS, True)
    items = await ReconciliationItem.find(ReconciliationItem.run_id == run.run_id).to_list()
    assert [(i.kind, i.order_id) for i in items] == [(MismatchKind.MISSING_HERE, "ord_unknown_1")]
    alerts = await AdminAlert.find(AdminAlert.kind == "reconciliation_mismatch").to_list()
    assert len(alerts) == 1
    assert alerts[0].outbox[0].envelope.type == "email.admin.alert"


async def test_orphan_reservation_is_released(gateway: CashfreeGateway) -> None:
    payment = await create_payment(amount=10_000)
    reserved = await PaymentService().repository.reserve_refund(
        payment.payment_id, "rfd_lost", 4_000
    )
    assert reserved is not None
    assert reserved.refundable_amount == 6_000

    released = await ReconciliationService(gateway).release_orphan_reservations(timedelta(0))

    assert released == 1
    stored = await PaymentService().get(payment.payment_id)
    assert (stored.refundable_amount, stored.refund_reserved_amount) == (10_000, 0)
    assert stored.refund_reservations == []


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
