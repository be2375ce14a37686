"""The reconciliation engine against the Cashfree emulator: every break kind made on purpose,
detected once (one alert, the same item on the next run), healed where safe, closed when
fixed; a settlement not yet due is no break."""

from datetime import UTC, datetime, timedelta

import pytest
from cashfree_emulator.testing import RunningEmulator
from paycore.alerts import AdminAlert
from paycore.audit.models import AuditRecord
from paycore.gateway import CashfreeGateway
from paycore.gateway.schemas import GatewayReconQuery
from paycore.kit.settings import CashfreeSettings
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService
from paycore.reconciliation.engine import ReconciliationEngine
from paycore.reconciliation.models import ItemStatus, MismatchKind, ReconciliationItem
from paycore.reconciliation.operations import ReconciliationItemNotOpen
from paycore.reconciliation.queries import find_items
from paycore.refunds.repository import RefundRepository
from paycore.testing import create_payment
from paycore.webhooks.models import WebhookLog, WebhookStatus
from pydantic import SecretStr
from recon_support import order_in_gateway
from reconciler.cli import render

K, S = MismatchKind, ItemStatus


async def _items() -> dict[str, tuple[MismatchKind, ItemStatus]]:
    return {i.item_id: (i.kind, i.status) for i in await ReconciliationItem.find().to_list()}


async def _alerts() -> list[str]:
    found = await AdminAlert.find(AdminAlert.kind == "reconciliation_break").to_list()
    return sorted(a.alert_id for a in found)


async def test_every_break_kind_is_found_once_healed_where_safe_and_closed_when_fixed(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    await emulator.control.configure(refund_delay_seconds=0)
    now = datetime.now(UTC)

    async def paid(status: P = P.SUCCESS, **fields: object) -> str:
        payment = await create_payment(status=status, amount=10_000, **fields)
        session = await order_in_gateway(gateway, payment.order_id, 10_000)
        attempt = await emulator.control.pay(session, "SUCCESS")
        if status == P.SUCCESS:  # captured: our payment names the gateway's attempt
            await PaymentService().repository.collection.update_one(
                {"_id": payment.payment_id},
                {"$set": {"cf_payment_id": str(attempt["cf_payment_id"])}},
            )
        return payment.order_id

    # A success webhook that was dropped: we still hold the payment PENDING.
    dropped = await paid(P.PENDING)
    # Settled, but short by a rupee the charges don't explain.
    short = await paid()
    await emulator.control.settle(short, short_by="1.00")
    # Captured three days ago and never settled: beyond the two-day SLA.
    late = await paid(created_at=now - timedelta(days=3))
    # Captured now, not settled yet: expected, not yet due.
    await paid()
    # A refund made in the dashboard, which we never heard of.
    dashboard = await paid()
    await emulator.control.dashboard_refund(dashboard, "20.00", resolve_to="SUCCESS")
    # The gateway captured the order twice; its auto-refund is still pending.
    duplicate = await paid()
    auto = await emulator.control.auto_refund(duplicate, status="PENDING")
    # Money we hold that the gateway never captured, and a success we don't know of.
    ours_only = (await create_payment(status=P.SUCCESS)).order_id
    await emulator.control.pay(await order_in_gateway(gateway, "ord_theirs_only", 5_000))
    await emulator.control.settle("ord_theirs_only")  # the gateway's report lists it then

    engine = ReconciliationEngine(gateway, default_settlement_sla=timedelta(days=2))
    window = (now - timedelta(hours=1), now + timedelta(hours=1))
    first = await engine.run(*window)

    assert first.status == "DONE", first.error
    refund_id = next(
        r.refund_id
        for r in await RefundRepository().list_for_payment("pay_" + dashboard.removeprefix("ord_"))
    )
    expected = {
        f"STATUS:{dropped}": (K.STATUS, S.HEALED),
        f"SETTLEMENT_AMOUNT:{short}": (K.SETTLEMENT_AMOUNT, S.OPEN),
        # Its SETTLEMENT_SUCCESS webhook never came: recorded from Cashfree's record.
        f"SETTLEMENT_MISSING:{short}": (K.SETTLEMENT_MISSING, S.HEALED),
        f"SETTLEMENT_DELAYED:{late}": (K.SETTLEMENT_DELAYED, S.OPEN),
        f"REFUND_INCONSISTENT:{refund_id}": (K.REFUND_INCONSISTENT, S.HEALED),
        f"DUPLICATE_CAPTURE:{duplicate}": (K.DUPLICATE_CAPTURE, S.OPEN),
        f"MISSING_AT_GATEWAY:{ours_only}": (K.MISSING_AT_GATEWAY, S.OPEN),
        "MISSING_HERE:ord_theirs_only": (K.MISSING_HERE, S.OPEN),
    }
    assert await _items() == expected
    # The exact differing fields: the settlement is 100 paise short.
    item = await ReconciliationItem.find_one(
        ReconciliationItem.item_id == f"SETTLEMENT_AMOUNT:{short}"
    )
    assert item is not None
    field = item.detail["settlement_amount"]
    assert field["ours"] - field["gateway"] == 100
    # Healed through the state machine, with the gateway's record as evidence and an audit.
    healed = await PaymentService().get_by_order_id(dropped)
    assert (healed.status, healed.history[-1].evidence.source) == (P.SUCCESS, "reconciler")
    dashboard_payment = await PaymentService().get_by_order_id(dashboard)
    assert dashboard_payment.refunded_amount == 2_000
    audits = await AuditRecord.find(AuditRecord.actor.id == "reconciler").to_list()
    assert {a.action for a in audits} == {
        "payment.reconciled",
        "refund.reconciled",
        "payment.settlement_reconciled",
    }
    settled = await PaymentService().get_by_order_id(short)
    assert settled.settlement is not None
    assert settled.settlement.status.value == "SETTLED"
    open_ids = sorted(f"reconciliation:{k}" for k, (_, s) in expected.items() if s == S.OPEN)
    assert await _alerts() == open_ids

    # The run again (resumed after a crash, say): the same items, no new alert.
    again = await engine.run(*window)
    assert (again.run_id, again.status) == (first.run_id, "DONE")
    assert await _items() == expected
    assert await _alerts() == open_ids

    # Fixed at the gateway: the late settlement arrives, the duplicate is refunded.
    await emulator.control.settle(late)
    await emulator.control.resolve_refund(duplicate, str(auto["refund_id"]), "SUCCESS")
    later = await engine.run(now - timedelta(hours=2), now + timedelta(hours=2))

    items = await _items()
    assert items[f"SETTLEMENT_DELAYED:{late}"] == (K.SETTLEMENT_DELAYED, S.CLOSED)
    assert items[f"SETTLEMENT_MISSING:{late}"] == (K.SETTLEMENT_MISSING, S.HEALED)
    assert items[f"DUPLICATE_CAPTURE:{duplicate}"] == (K.DUPLICATE_CAPTURE, S.CLOSED)
    assert items[f"SETTLEMENT_AMOUNT:{short}"] == (K.SETTLEMENT_AMOUNT, S.OPEN)
    assert later.closed == 2
    assert await _alerts() == open_ids  # nothing re-alerted

    # An operator resolves what the gateway will not fix, with a note.
    resolved = await engine.resolve(f"SETTLEMENT_AMOUNT:{short}", "Cashfree credits it", "alice")
    assert (resolved.status, resolved.note) == (S.RESOLVED, "Cashfree credits it")
    with pytest.raises(ReconciliationItemNotOpen):
        await engine.resolve(f"SETTLEMENT_AMOUNT:{short}", "twice", "alice")

    report = render(await find_items(status="OPEN"))
    assert f"MISSING_AT_GATEWAY:{ours_only}" in report
    assert "captured_amount: 10000 → none" in report
    assert "items: " in report


async def test_no_break_for_a_settlement_not_yet_due(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payment = await create_payment(status=P.SUCCESS, amount=10_000, payment_method="upi")
    await emulator.control.pay(await order_in_gateway(gateway, payment.order_id, 10_000))
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway, settlement_sla={"upi": timedelta(hours=48)})

    run = await engine.run(now - timedelta(hours=1), now + timedelta(hours=1))
    assert (run.checked, run.matched, run.mismatched) == (1, 1, 0)
    assert await _items() == {}

    # Past the method's SLA it is a break (and, with no webhook in two days, so is that).
    await engine.run(
        now - timedelta(hours=1), now + timedelta(hours=1), now=now + timedelta(hours=49)
    )
    items = await _items()
    assert items[f"SETTLEMENT_DELAYED:{payment.order_id}"] == (K.SETTLEMENT_DELAYED, S.OPEN)
    assert set(items) == {
        f"SETTLEMENT_DELAYED:{payment.order_id}",
        f"WEBHOOK_MISSING:{payment.order_id}",
    }


async def test_webhooks_never_received_or_never_applied_are_breaks_until_fixed(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    orders = []
    for _ in range(2):
        payment = await create_payment(status=P.SUCCESS, amount=10_000)
        attempt = await emulator.control.pay(
            await order_in_gateway(gateway, payment.order_id, 10_000)
        )
        await PaymentService().repository.collection.update_one(
            {"_id": payment.payment_id}, {"$set": {"cf_payment_id": str(attempt["cf_payment_id"])}}
        )
        orders.append(payment.order_id)
    never_received, never_applied = orders
    log = WebhookLog(
        log_id="whk_" + never_applied,
        event_id="evt_" + never_applied,
        event_type="PAYMENT_SUCCESS_WEBHOOK",
        body_sha256="0" * 64,
        signature="sig",
        timestamp="1700000000000",
        status=WebhookStatus.FAILED,
        reason="malformed",
        order_id=never_applied,
        dead_lettered=True,
    )
    await log.insert()
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = (now - timedelta(hours=1), now + timedelta(hours=1))

    # Within Cashfree's retries a missing webhook is not due yet.
    await engine.run(*window)
    assert await _items() == {f"WEBHOOK_UNAPPLIED:{log.log_id}": (K.WEBHOOK_UNAPPLIED, S.OPEN)}

    await engine.run(*window, now=now + timedelta(hours=2))
    assert await _items() == {
        f"WEBHOOK_UNAPPLIED:{log.log_id}": (K.WEBHOOK_UNAPPLIED, S.OPEN),
        f"WEBHOOK_MISSING:{never_received}": (K.WEBHOOK_MISSING, S.OPEN),
    }

    # Replayed by an operator, and Cashfree's dashboard resend arrives.
    await WebhookLog.get_pymongo_collection().update_one(
        {"log_id": log.log_id}, {"$set": {"status": "SUCCESS", "dead_lettered": False}}
    )
    await WebhookLog(
        log_id="whk_" + never_received,
        event_id="evt_" + never_received,
        event_type="PAYMENT_SUCCESS_WEBHOOK",
        body_sha256="0" * 64,
        signature="sig",
        timestamp="1700000000000",
        status=WebhookStatus.SUCCESS,
        order_id=never_received,
    ).insert()
    await engine.run(*window, now=now + timedelta(hours=3))
    assert await _items() == {
        f"WEBHOOK_UNAPPLIED:{log.log_id}": (K.WEBHOOK_UNAPPLIED, S.CLOSED),
        f"WEBHOOK_MISSING:{never_received}": (K.WEBHOOK_MISSING, S.CLOSED),
    }


async def test_the_gateway_report_reads_the_same_in_both_shapes(
    emulator: RunningEmulator,
) -> None:
    reports = []
    for version in ("2023-08-01", "2026-01-01"):
        settings = CashfreeSettings(
            cashfree_app_id=emulator.app_id,
            cashfree_secret_key=SecretStr(emulator.secret_key),
            cashfree_base_url=emulator.api_url,  # type: ignore[arg-type]
            cashfree_api_version=version,
        )
        client = CashfreeGateway(settings)
        if not reports:
            payment = await create_payment(status=P.SUCCESS, amount=10_000)
            await emulator.control.pay(await order_in_gateway(client, payment.order_id, 10_000))
            await emulator.control.settle(payment.order_id)
        now = datetime.now(UTC)
        page = await client.pg_recon(
            GatewayReconQuery(start=now - timedelta(hours=1), end=now + timedelta(hours=1))
        )
        reports.append(page.entries)
        await client.aclose()
    flat, nested = reports
    assert [e.event_type for e in nested] == [e.event_type for e in flat]
    assert nested == flat


async def test_an_invoice_paid_by_two_payments_is_a_duplicate_until_one_is_refunded(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payments = []
    for _ in range(2):
        payment = await create_payment(status=P.SUCCESS, amount=10_000, invoice_number="INV-7")
        attempt = await emulator.control.pay(
            await order_in_gateway(gateway, payment.order_id, 10_000)
        )
        await PaymentService().repository.collection.update_one(
            {"_id": payment.payment_id}, {"$set": {"cf_payment_id": str(attempt["cf_payment_id"])}}
        )
        payments.append(payment)
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = (now - timedelta(hours=1), now + timedelta(hours=1))

    await engine.run(*window)
    key = f"DUPLICATE_CAPTURE:invoice:{payments[0].user_id}:INV-7"
    assert await _items() == {key: (K.DUPLICATE_CAPTURE, S.OPEN)}
    item = await ReconciliationItem.find_one(ReconciliationItem.item_id == key)
    assert item is not None
    assert item.detail["payment_ids"] == sorted(p.payment_id for p in payments)
    assert await _alerts() == [f"reconciliation:{key}"]

    # One is refunded in full (here: as the refund's success would leave it).
    await PaymentService().repository.collection.update_one(
        {"_id": payments[1].payment_id}, {"$set": {"status": "REFUNDED"}}
    )
    await engine.run(*window)
    assert await _items() == {key: (K.DUPLICATE_CAPTURE, S.CLOSED)}


async def test_a_captured_amount_that_differs_is_an_amount_break_with_both_figures(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payment = await create_payment(status=P.SUCCESS, amount=10_000)
    attempt = await emulator.control.pay(await order_in_gateway(gateway, payment.order_id, 10_000))
    await PaymentService().repository.collection.update_one(
        {"_id": payment.payment_id},
        # Our record drifted (a bad migration, say): it says 9 000 paise were captured.
        {"$set": {"cf_payment_id": str(attempt["cf_payment_id"]), "captured_amount": 9_000}},
    )
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)

    await engine.run(now - timedelta(hours=1), now + timedelta(hours=1))

    item = await ReconciliationItem.find_one(
        ReconciliationItem.item_id == f"AMOUNT:{payment.order_id}"
    )
    assert item is not None
    assert item.status == S.OPEN
    assert item.detail == {"captured_amount": {"ours": 9_000, "gateway": 10_000}}

    await PaymentService().repository.collection.update_one(
        {"_id": payment.payment_id}, {"$set": {"captured_amount": 10_000}}
    )
    await engine.run(now - timedelta(hours=1), now + timedelta(hours=1))
    closed = await ReconciliationItem.find_one(
        ReconciliationItem.item_id == f"AMOUNT:{payment.order_id}"
    )
    assert closed is not None
    assert closed.status == S.CLOSED
