"""The reconciliation engine against the Cashfree emulator: every break kind made on purpose,
detected once (one alert, the same item on the next run), healed where safe, closed when
fixed; a settlement not yet due is no break."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cashfree_emulator.testing import RunningEmulator
from paycore.alerts import AdminAlert
from paycore.audit.models import AuditRecord
from paycore.gateway import CashfreeGateway
from paycore.gateway.schemas import (
    GatewayReconQuery,
    GatewaySettlementQuery,
)
from paycore.kit.state import Evidence
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService
from paycore.reconciliation.engine import ReconciliationEngine
from paycore.reconciliation.errors import ReconciliationItemNotOpen
from paycore.reconciliation.models import ItemStatus, MismatchKind, ReconciliationItem
from paycore.reconciliation.repository import ReconciliationRepository
from paycore.refunds.models import Refund
from paycore.refunds.repository import RefundRepository
from paycore.refunds.service import RefundService
from paycore.testing import create_payment
from paycore.webhooks.models import WebhookLog, WebhookStatus
from recon_support import (
    gateway_for,
    order_in_gateway,
    paid_at_gateway,
    refund_at_gateway,
    refunds_resolved_at_gateway,
    webhook_log,
)
from reconciler.cli import render

K, S = MismatchKind, ItemStatus


async def _items() -> dict[str, tuple[MismatchKind, ItemStatus]]:
    return {i.item_id: (i.kind, i.status) for i in await ReconciliationItem.find().to_list()}


async def _set(payment_id: str, **fields: Any) -> None:
    await PaymentService().repository.collection.update_one({"_id": payment_id}, {"$set": fields})


async def _refund_3000(payment_id: str, idempotency_key: str) -> Refund:
    """Asks for a refund of ₹30 (3,000 paise) of the payment through our refund service."""
    payment = await PaymentService().get(payment_id)
    return await RefundService().request(
        payment, amount=3_000, reason="r", user_id=payment.user_id, idempotency_key=idempotency_key
    )


async def _alerts() -> list[str]:
    found = await AdminAlert.find(AdminAlert.kind == "reconciliation_break").to_list()
    return sorted(a.alert_id for a in found)


def _hour_around(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(hours=1), now + timedelta(hours=1)


async def _run_leaves(
    engine: ReconciliationEngine,
    window: tuple[datetime, datetime],
    items: dict[str, tuple[MismatchKind, ItemStatus]],
    alerts: list[str],
) -> None:
    """Runs the engine over `window`; then every item and every alert are exactly these."""
    await engine.run(*window)
    assert await _items() == items
    assert await _alerts() == alerts


async def test_every_break_kind_is_found_once_healed_where_safe_and_closed_when_fixed(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    await emulator.control.configure(refund_delay_seconds=0)
    now = datetime.now(UTC)

    async def paid(status: P = P.SUCCESS, **fields: object) -> str:
        return (await paid_at_gateway(gateway, emulator, status, **fields)).order_id

    # A success webhook that was dropped, and the janitor not come by yet: we still hold the
    # payment PENDING; its settlement puts it in Cashfree's report.
    dropped = await paid(P.PENDING)
    await emulator.control.settle(dropped)
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
    await refunds_resolved_at_gateway(gateway, dashboard)
    # The gateway captured the order twice; its auto-refund is still pending.
    duplicate = await paid()
    auto = await emulator.control.auto_refund(duplicate, status="PENDING")
    # Money we hold that the gateway never captured, and a success we don't know of.
    ours_only = (await create_payment(status=P.SUCCESS)).order_id
    await emulator.control.pay(await order_in_gateway(gateway, "ord_theirs_only", 5_000))
    await emulator.control.settle("ord_theirs_only")  # the gateway's report lists it then

    engine = ReconciliationEngine(gateway, default_settlement_sla=timedelta(days=2))
    window = _hour_around(now)
    first = await engine.run(*window)

    assert first.status == "DONE", first.error
    refund_id = next(
        r.refund_id
        for r in await RefundRepository().list_for_payment("pay_" + dashboard.removeprefix("ord_"))
    )
    expected = {
        f"STATUS:{dropped}": (K.STATUS, S.HEALED),
        f"SETTLEMENT_MISSING:{dropped}": (K.SETTLEMENT_MISSING, S.HEALED),
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

    report = render(await ReconciliationRepository().find_items(status="OPEN"))
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
    received, applied = [await paid_at_gateway(gateway, emulator) for _ in range(2)]
    never_received, never_applied = received.order_id, applied.order_id
    # Our record disagrees with the gateway's (a bad migration, say): the dropped webhook is
    # not healed by anything, so it is a break of its own.
    await _set(received.payment_id, captured_amount=9_000)
    amount = f"AMOUNT:{never_received}"
    log = await webhook_log(
        never_applied, WebhookStatus.FAILED, reason="malformed", dead_lettered=True
    )
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = _hour_around(now)
    unapplied, missing = f"WEBHOOK_UNAPPLIED:{log.log_id}", f"WEBHOOK_MISSING:{never_received}"

    # Within Cashfree's retries a missing webhook is not due yet.
    await engine.run(*window)
    assert await _items() == {
        unapplied: (K.WEBHOOK_UNAPPLIED, S.OPEN),
        amount: (K.AMOUNT, S.OPEN),
    }

    await engine.run(*window, now=now + timedelta(hours=2))
    assert await _items() == {
        unapplied: (K.WEBHOOK_UNAPPLIED, S.OPEN),
        missing: (K.WEBHOOK_MISSING, S.OPEN),
        amount: (K.AMOUNT, S.OPEN),
    }
    alerted = sorted(f"reconciliation:{key}" for key in (unapplied, missing, amount))
    assert await _alerts() == alerted
    # Found again on the next run: the same items, no second alert.
    again = await engine.run(*window, now=now + timedelta(hours=2, minutes=30))
    assert (again.mismatched, await _alerts()) == (3, alerted)

    # Replayed by an operator, and Cashfree's dashboard resend arrives.
    await WebhookLog.get_pymongo_collection().update_one(
        {"log_id": log.log_id}, {"$set": {"status": "SUCCESS", "dead_lettered": False}}
    )
    await webhook_log(never_received)
    await _set(received.payment_id, captured_amount=10_000)
    await engine.run(*window, now=now + timedelta(hours=3))
    assert await _items() == {
        unapplied: (K.WEBHOOK_UNAPPLIED, S.CLOSED),
        missing: (K.WEBHOOK_MISSING, S.CLOSED),
        amount: (K.AMOUNT, S.CLOSED),
    }
    assert await _alerts() == alerted


async def test_the_gateway_reports_read_the_same_in_both_shapes(
    emulator: RunningEmulator,
) -> None:
    reports = []
    for version in ("2023-08-01", "2026-01-01"):
        client = gateway_for(emulator, version)
        if not reports:
            payment = await create_payment(status=P.SUCCESS, amount=10_000)
            await emulator.control.pay(await order_in_gateway(client, payment.order_id, 10_000))
            await emulator.control.settle(payment.order_id)
        now = datetime.now(UTC)
        window = {"start": now - timedelta(hours=1), "end": now + timedelta(hours=1)}
        recon = await client.pg_recon(GatewayReconQuery(**window))
        settlement = await client.settlement_recon(GatewaySettlementQuery(**window))
        reports.append((recon.entries, settlement.entries))
        await client.aclose()
    flat, nested = reports
    assert [e.event_type for e in flat[0]] == ["PAYMENT", "SETTLEMENT"]
    assert [e.event_type for e in flat[1]] == ["PAYMENT"]
    assert nested == flat


async def test_an_invoice_paid_by_two_payments_is_a_duplicate_until_one_is_refunded(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payments = [await paid_at_gateway(gateway, emulator, invoice_number="INV-7") for _ in range(2)]
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = _hour_around(now)

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
    # Alerted once, never again.
    await _run_leaves(
        engine, window, {key: (K.DUPLICATE_CAPTURE, S.CLOSED)}, [f"reconciliation:{key}"]
    )


async def test_a_captured_amount_that_differs_is_an_amount_break_with_both_figures(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payment = await paid_at_gateway(gateway, emulator)
    # Our record drifted (a bad migration, say): it says 9 000 paise were captured.
    await _set(payment.payment_id, captured_amount=9_000)
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = _hour_around(now)
    key = f"AMOUNT:{payment.order_id}"

    await engine.run(*window)
    item = await ReconciliationItem.find_one(ReconciliationItem.item_id == key)
    assert item is not None
    assert item.status == S.OPEN
    assert item.detail == {"captured_amount": {"ours": 9_000, "gateway": 10_000}}
    # Found again: the same item, alerted once.
    await _run_leaves(engine, window, {key: (K.AMOUNT, S.OPEN)}, [f"reconciliation:{key}"])

    await _set(payment.payment_id, captured_amount=10_000)
    await _run_leaves(engine, window, {key: (K.AMOUNT, S.CLOSED)}, [f"reconciliation:{key}"])


async def test_a_refund_the_gateway_never_made_stays_open_until_it_does(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    await emulator.control.configure(refund_delay_seconds=0)
    payment = await paid_at_gateway(gateway, emulator)
    await webhook_log(payment.order_id)
    refund = await _refund_3000(payment.payment_id, "k-never-sent")
    # Recorded final here (a bad manual fix, say), never sent to Cashfree: our final refund
    # cannot be undone by the engine, so it stays a break for a person.
    await RefundRepository().collection.update_one(
        {"_id": refund.refund_id}, {"$set": {"status": "SUCCESS"}}
    )
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = _hour_around(now)
    key = f"REFUND_INCONSISTENT:{refund.refund_id}"

    first = await engine.run(*window)
    assert await _items() == {key: (K.REFUND_INCONSISTENT, S.OPEN)}
    item = await ReconciliationItem.find_one(ReconciliationItem.item_id == key)
    assert item is not None
    assert item.detail == {"status": {"ours": "SUCCESS", "gateway": None}}
    assert (first.mismatched, first.healed) == (1, 0)
    await engine.run(*window)
    assert await _alerts() == [f"reconciliation:{key}"]

    # The refund is made at Cashfree after all: the next run finds it consistent.
    await refund_at_gateway(gateway, payment.order_id, refund.refund_id, 3_000)
    await refunds_resolved_at_gateway(gateway, payment.order_id)
    await _run_leaves(
        engine, window, {key: (K.REFUND_INCONSISTENT, S.CLOSED)}, [f"reconciliation:{key}"]
    )


async def test_money_missing_on_either_side_closes_once_both_sides_hold_it(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    ours_only = await create_payment(status=P.SUCCESS, amount=10_000)
    theirs_only = "ord_theirs_" + ours_only.payment_id.removeprefix("pay_")
    attempt = await emulator.control.pay(await order_in_gateway(gateway, theirs_only, 5_000))
    await emulator.control.settle(theirs_only)
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = _hour_around(now)
    at_gateway, here = f"MISSING_AT_GATEWAY:{ours_only.order_id}", f"MISSING_HERE:{theirs_only}"
    alerted = sorted(f"reconciliation:{key}" for key in (at_gateway, here))

    await engine.run(*window)
    assert await _items() == {
        at_gateway: (K.MISSING_AT_GATEWAY, S.OPEN),
        here: (K.MISSING_HERE, S.OPEN),
    }
    await engine.run(*window)
    assert await _alerts() == alerted

    # The customer's payment reaches Cashfree after all; the unknown one is recorded here.
    await emulator.control.pay(await order_in_gateway(gateway, ours_only.order_id, 10_000))
    await create_payment(
        status=P.SUCCESS,
        amount=5_000,
        order_id=theirs_only,
        cf_payment_id=str(attempt["cf_payment_id"]),
    )
    later = await engine.run(*window)

    items = await _items()
    assert (items[at_gateway], items[here]) == (
        (K.MISSING_AT_GATEWAY, S.CLOSED),
        (K.MISSING_HERE, S.CLOSED),
    )
    assert later.closed == 2
    assert await _alerts() == alerted


@pytest.mark.parametrize("version", ["2023-08-01", "2026-01-01"])
async def test_a_run_reads_every_report_page_and_asks_only_about_orders_left_in_doubt(
    emulator: RunningEmulator, version: str
) -> None:
    # Either shape of the reports (flat, nested), pages of 10 events (Cashfree's minimum).
    gateway = gateway_for(emulator, version)
    await emulator.control.configure(refund_delay_seconds=0)
    orders = []
    for _ in range(12):
        payment = await paid_at_gateway(gateway, emulator)
        await webhook_log(payment.order_id)
        await emulator.control.settle(payment.order_id)
        orders.append(payment.order_id)
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway, report_page_size=10)
    window = _hour_around(now)

    async def cashfree_calls() -> Counter[str]:
        return Counter(call.operation for call in await emulator.control.calls())

    # The settlement webhooks never came: every order is in doubt, asked about and healed.
    before = await cashfree_calls()
    first = await engine.run(*window)
    asked = await cashfree_calls() - before
    assert (first.checked, first.asked_gateway, first.healed) == (12, 12, 12)
    per_order = ("get_order", "get_payments", "get_refunds", "get_order_settlement")
    assert all(asked[operation] == 12 for operation in per_order)

    # Now both sides agree: the report pages (12 payments; and 12 settlements in PG recon),
    # no call per order.
    before = await cashfree_calls()
    second = await engine.run(*window)
    asked = await cashfree_calls() - before
    assert asked == Counter({"get_settlement_recon": 2, "get_recon": 3})
    assert (second.checked, second.matched, second.asked_gateway) == (12, 12, 0)
    assert second.report_pages == 5

    # A refund made in the dashboard: only that order is asked about.
    await emulator.control.dashboard_refund(orders[0], "10.00", resolve_to="SUCCESS")
    await refunds_resolved_at_gateway(gateway, orders[0])
    before = await cashfree_calls()
    third = await engine.run(*window)
    asked = await cashfree_calls() - before
    assert (third.asked_gateway, third.healed) == (1, 1)
    assert asked["get_order"] == 1
    assert sum(asked.values()) == 5 + 4
    await gateway.aclose()


@pytest.mark.parametrize("lists_unsettled", [False, True])
async def test_nothing_depends_on_whether_pg_recon_lists_captures_before_they_settle(
    gateway: CashfreeGateway, emulator: RunningEmulator, lists_unsettled: bool
) -> None:
    # Cashfree's docs leave it open; the emulator can read them either way.
    await emulator.control.configure(recon_lists_unsettled=lists_unsettled)
    ours = await paid_at_gateway(gateway, emulator)  # captured, not settled yet
    await webhook_log(ours.order_id)
    theirs = "ord_theirs_" + ours.payment_id.removeprefix("pay_")
    await emulator.control.pay(await order_in_gateway(gateway, theirs, 5_000))
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = _hour_around(now)
    missing_here = {f"MISSING_HERE:{theirs}": (K.MISSING_HERE, S.OPEN)}

    first = await engine.run(*window)
    # Ours agrees with the reports either way (no call about it, no break); the capture we
    # don't know of is found as soon as a report lists it.
    assert first.asked_gateway == (1 if lists_unsettled else 0)
    assert await _items() == (missing_here if lists_unsettled else {})

    # Once it settles, the settlement report lists it under either reading.
    await emulator.control.settle(theirs)
    await _run_leaves(engine, window, missing_here, [f"reconciliation:MISSING_HERE:{theirs}"])


async def test_a_report_that_cannot_be_read_fails_the_run_and_its_window_runs_again(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    ours_only = await create_payment(status=P.SUCCESS)
    await emulator.control.fail_next_calls(500, operation="get_recon")
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = _hour_around(now)

    failed = await engine.run(*window)
    assert failed.status == "FAILED"
    assert failed.error is not None
    assert failed.error.startswith("reports: GatewayServerError")
    assert (failed.checked, await _items()) == (0, {})

    again = await engine.run(*window)
    assert (again.run_id, again.status, again.checked) == (failed.run_id, "DONE", 1)
    assert await _items() == {
        f"MISSING_AT_GATEWAY:{ours_only.order_id}": (K.MISSING_AT_GATEWAY, S.OPEN)
    }


async def test_every_order_asks_about_orders_the_reports_leave_to_the_janitor(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    # Restored from a backup taken before Cashfree captured it: we hold it PENDING, and it
    # is not settled yet, so no report names it.
    restored = await paid_at_gateway(gateway, emulator, P.PENDING)
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = _hour_around(now)

    usual = await engine.run(*window)
    assert (usual.checked, usual.asked_gateway, await _items()) == (1, 0, {})

    thorough = await engine.run(*window, every_order=True)
    assert (thorough.asked_gateway, thorough.healed) == (1, 1)
    assert await _items() == {f"STATUS:{restored.order_id}": (K.STATUS, S.HEALED)}
    assert (await PaymentService().get(restored.payment_id)).status == P.SUCCESS


async def test_an_open_break_healed_by_a_later_run_is_marked_healed(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    dropped = await paid_at_gateway(gateway, emulator, P.PENDING)
    await emulator.control.settle(dropped.order_id)
    key = f"STATUS:{dropped.order_id}"
    # An earlier run could not heal it (Cashfree reported another amount, say): open.
    await ReconciliationItem(
        item_id=key,
        run_id="rec_manual_earlier",
        kind=K.STATUS,
        order_id=dropped.order_id,
        payment_id=dropped.payment_id,
    ).insert()
    now = datetime.now(UTC)

    run = await ReconciliationEngine(gateway).run(
        now - timedelta(hours=1), now + timedelta(hours=1)
    )

    assert (await _items())[key] == (K.STATUS, S.HEALED)
    assert (run.healed, run.mismatched) == (2, 0)  # the status, and the missed settlement
    assert (await PaymentService().get(dropped.payment_id)).status == P.SUCCESS


async def test_an_auto_refund_its_webhook_recorded_is_one_refund_counted_once(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    # Found by review: AUTO_REFUND_STATUS_WEBHOOK names only cf_refund_id (our id for it),
    # Cashfree's refund listing another refund_id; the run took the listed one for a refund
    # we lacked and recorded it again: two refunds, an auto-refund of our capture counted
    # twice against what the customer paid.
    await emulator.control.configure(refund_delay_seconds=0)
    duplicate = await paid_at_gateway(gateway, emulator)
    await emulator.control.auto_refund(duplicate.order_id, status="SUCCESS")
    ours = await paid_at_gateway(gateway, emulator)
    await emulator.control.auto_refund(
        ours.order_id, duplicate_payment=False, status="SUCCESS", amount="40.00"
    )
    for payment in (duplicate, ours):
        await refunds_resolved_at_gateway(gateway, payment.order_id)
    for payment in (duplicate, ours):
        await webhook_log(payment.order_id)
        [listed] = await gateway.list_refunds(payment.order_id)
        assert listed.gateway_refund_id is not None
        assert listed.refund_id != listed.gateway_refund_id
        # What the webhook processor records (`webhooks.parsing`: no merchant refund id).
        as_webhook = listed.model_copy(update={"refund_id": listed.gateway_refund_id})
        await RefundService().record_auto_refund(as_webhook, "auto", Evidence(source="webhook"))

    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    run = await engine.run(now - timedelta(hours=1), now + timedelta(hours=1), every_order=True)

    assert run.status == "DONE", run.error
    refunds = RefundRepository()
    for payment in (duplicate, ours):
        [refund] = await refunds.list_for_payment(payment.payment_id)
        assert refund.status.value == "SUCCESS"
    assert (await PaymentService().get(ours.payment_id)).refunded_amount == 4_000
    assert not [k for k in await _items() if k.startswith("REFUND_INCONSISTENT")]


async def test_a_refund_of_another_attempt_than_ours_says_is_a_break(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    # Found by review: our record refunds the duplicate attempt, Cashfree's under the same id
    # refunds the customer's payment (one id, two attempts); amounts alike, so it passed.
    await emulator.control.configure(refund_delay_seconds=0)
    payment = await paid_at_gateway(gateway, emulator)
    await webhook_log(payment.order_id)
    refund = await _refund_3000(payment.payment_id, "k-other-attempt")
    await refund_at_gateway(gateway, payment.order_id, refund.refund_id, 3_000)
    await refunds_resolved_at_gateway(gateway, payment.order_id)
    await RefundRepository().collection.update_one(
        {"_id": refund.refund_id}, {"$set": {"status": "SUCCESS", "cf_payment_id": "1"}}
    )
    now = datetime.now(UTC)
    await ReconciliationEngine(gateway).run(
        now - timedelta(hours=1), now + timedelta(hours=1), every_order=True
    )
    key = f"REFUND_INCONSISTENT:{refund.refund_id}"
    assert (await _items())[key] == (K.REFUND_INCONSISTENT, S.OPEN)
    item = await ReconciliationItem.find_one(ReconciliationItem.item_id == key)
    assert item is not None
    assert item.detail == {"cf_payment_id": {"ours": "1", "gateway": payment.cf_payment_id}}


async def test_a_refund_applied_while_the_run_asked_about_it_is_no_heal(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    # Found by the running-system test: the run read our refund PROCESSING, its webhook
    # applied SUCCESS while the run asked Cashfree, and the run "healed" it (a HEALED item and
    # a refund.reconciled audit after refund.success) though nothing was missed.
    payment = await paid_at_gateway(gateway, emulator)
    refund = await _refund_3000(payment.payment_id, "k-in-flight")
    read_by_the_run = await RefundRepository().list_for_payment(payment.payment_id)
    # Resolved by the control call, not by the emulator's timer racing the next request.
    await refund_at_gateway(gateway, payment.order_id, refund.refund_id, 3_000, note="PENDING")
    await emulator.control.resolve_refund(payment.order_id, refund.refund_id, "SUCCESS")
    answer = await gateway.get_refund(payment.order_id, refund.refund_id)
    assert answer.status.value == "SUCCEEDED"
    await RefundService().apply_gateway_refund(answer, Evidence(source="webhook"))

    engine = ReconciliationEngine(gateway)

    async def as_read_before(payment_id: str) -> list[Any]:
        return read_by_the_run  # the run's read, from before the webhook was applied

    engine.refunds.list_for_payment = as_read_before  # type: ignore[method-assign]
    findings = await engine._check_refunds(await PaymentService().get(payment.payment_id), [answer])
    assert findings == []
    audits = await AuditRecord.find(AuditRecord.resource_id == refund.refund_id).to_list()
    assert "refund.reconciled" not in [a.action for a in audits]


async def test_a_healed_or_closed_item_found_broken_again_reopens_with_one_alert_each_time(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    payment = await paid_at_gateway(gateway, emulator)
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    window = _hour_around(now)
    key = f"AMOUNT:{payment.order_id}"
    # An earlier run healed it; our record has drifted since.
    await ReconciliationItem(
        item_id=key,
        run_id="rec_manual_earlier",
        kind=K.AMOUNT,
        status=S.HEALED,
        order_id=payment.order_id,
        payment_id=payment.payment_id,
    ).insert()
    await _set(payment.payment_id, captured_amount=9_000)

    await engine.run(*window)
    item = await ReconciliationItem.find_one(ReconciliationItem.item_id == key)
    assert item is not None
    assert (item.status, item.reopened) == (S.OPEN, 1)
    assert item.detail == {"captured_amount": {"ours": 9_000, "gateway": 10_000}}
    assert await _alerts() == [f"reconciliation:{key}:reopened:1"]
    # Found again while open: no second alert.
    await engine.run(*window)
    assert await _alerts() == [f"reconciliation:{key}:reopened:1"]

    # Fixed (closed), then broken again: reopened, its own alert.
    await _set(payment.payment_id, captured_amount=10_000)
    await engine.run(*window)
    assert await _items() == {key: (K.AMOUNT, S.CLOSED)}
    await _set(payment.payment_id, captured_amount=8_000)
    await engine.run(*window)
    await _run_leaves(
        engine,
        window,
        {key: (K.AMOUNT, S.OPEN)},
        [f"reconciliation:{key}:reopened:{n}" for n in (1, 2)],
    )


async def test_a_dropped_webhook_the_janitor_healed_is_recorded_healed_without_an_alert(
    gateway: CashfreeGateway, emulator: RunningEmulator
) -> None:
    dropped = await paid_at_gateway(gateway, emulator, P.PENDING)
    now = datetime.now(UTC)
    engine = ReconciliationEngine(gateway)
    # The janitor's first re-check applies the gateway's record (the webhook never came).
    await engine.janitor.verify(await PaymentService().get(dropped.payment_id))
    assert (await PaymentService().get(dropped.payment_id)).status == P.SUCCESS
    key = f"WEBHOOK_MISSING:{dropped.order_id}"

    run = await engine.run(
        now - timedelta(hours=1), now + timedelta(hours=1), now=now + timedelta(hours=2)
    )
    run = await engine.run(
        now - timedelta(hours=1), now + timedelta(hours=1), now=now + timedelta(hours=3)
    )

    item = await ReconciliationItem.find_one(ReconciliationItem.item_id == key)
    assert item is not None
    assert item.status == S.HEALED
    assert item.detail["healed_by"]["source"] != "webhook"
    assert run.mismatched == 0
    assert await _alerts() == []
