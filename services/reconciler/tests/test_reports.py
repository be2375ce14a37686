"""`reports.doubts`: which orders a run asks Cashfree about, decided from the reports and our
records alone (no call)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from paycore.gateway.schemas import (
    GatewayReconEntry,
    GatewayReconEventStatus,
    GatewayReconEventType,
    GatewayReconPage,
)
from paycore.payments.models import Payment, Settlement, SettlementStatus
from paycore.payments.models import PaymentStatus as P
from paycore.reconciliation.reports import WindowReport, doubts
from paycore.refunds.models import Refund, RefundStatus
from paycore.testing import create_payment
from paycore.webhooks.models import WebhookLog
from recon_support import webhook_log_of

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
# 10 000 paise captured: 200 charge and 36 tax leave 9 764 settled.
SETTLED = Settlement(
    status=SettlementStatus.SETTLED,
    cf_settlement_id="77",
    utr="UTR77",
    settled_amount=9_764,
    service_charge=200,
    service_tax=36,
)


def _event(kind: GatewayReconEventType, **fields: Any) -> GatewayReconEntry:
    values: dict[str, Any] = {
        "event_type": kind,
        "event_status": GatewayReconEventStatus.SUCCEEDED,
        "currency": "INR",
        "order_id": "ord_1",
    }
    return GatewayReconEntry(**{**values, **fields})


def _capture(cf_payment_id: str = "cf_1", settled: bool = True) -> GatewayReconEntry:
    settlement = {
        "gateway_settlement_id": "77",
        "settlement_utr": "UTR77",
        "settlement_amount_minor": 9_764,
    }
    return _event(
        GatewayReconEventType.PAYMENT,
        event_id=cf_payment_id,
        gateway_payment_id=cf_payment_id,
        amount_minor=10_000,
        **(settlement if settled else {}),
    )


def _refund(payment: Payment, refund_id: str, amount: int, status: RefundStatus) -> Refund:
    return Refund(
        refund_id=refund_id,
        payment_id=payment.payment_id,
        order_id=payment.order_id,
        user_id=payment.user_id,
        idempotency_key=refund_id,
        amount=amount,
        currency="INR",
        status=status,
    )


async def _payment(**fields: Any) -> Payment:
    values: dict[str, Any] = {"cf_payment_id": "cf_1", "settlement": SETTLED, **fields}
    return await create_payment(status=values.pop("status", P.SUCCESS), **values)


def _doubts(
    payment: Payment | None,
    entries: list[GatewayReconEntry],
    refunds: list[Refund] | None = None,
    logs: list[WebhookLog] | None = None,
    due_by: datetime = NOW + timedelta(days=1),
) -> list[str]:
    """`doubts` with the success webhook applied unless `logs` say otherwise."""
    applied = webhook_log_of("ord_1")
    return doubts(
        payment,
        entries,
        refunds or [],
        [applied] if logs is None else logs,
        settlement_due_by=due_by,
        grace=timedelta(hours=1),
        now=NOW,
    )


async def test_an_order_the_reports_and_our_records_agree_on_leaves_no_doubt() -> None:
    payment = await _payment()
    refund = _refund(payment, "rfd_1", 1_000, RefundStatus.SUCCESS)
    reported = _event(GatewayReconEventType.REFUND, refund_id="rfd_1", amount_minor=1_000)
    assert _doubts(payment, [_capture(), reported], [refund]) == []


async def test_each_difference_is_a_doubt() -> None:
    settled = await _payment()
    assert _doubts(settled, [_capture("cf_other")]) == ["capture differs"]
    assert _doubts(settled, [_capture(), _capture("cf_2")]) == ["captured more than once"]
    assert _doubts(settled, [_capture()], logs=[]) == ["no success webhook"]
    short = await _payment(settlement=SETTLED.model_copy(update={"settled_amount": 9_664}))
    capture = _capture().model_copy(update={"settlement_amount_minor": 9_664})
    assert _doubts(short, [capture]) == ["settled amount unexplained"]
    assert _doubts(short, [_capture()]) == ["settled amount differs"]
    unsettled = await _payment(settlement=None)
    assert _doubts(unsettled, [_capture()]) == ["settlement differs"]
    refund = _refund(settled, "rfd_2", 1_000, RefundStatus.SUCCESS)
    assert _doubts(settled, [_capture()], [refund]) == ["refund rfd_2 not reported"]
    unknown = _event(GatewayReconEventType.REFUND, refund_id="rfd_3", amount_minor=500)
    assert _doubts(settled, [_capture(), unknown]) == ["refund rfd_3 differs"]


async def test_a_settlement_is_expected_until_its_sla_then_overdue() -> None:
    payment = await _payment(settlement=None)
    # Not in the window's reports, or listed before its settlement: expected while due later.
    assert _doubts(payment, []) == []
    assert _doubts(payment, [_capture(settled=False)]) == []
    assert _doubts(payment, [], due_by=NOW - timedelta(minutes=1)) == ["settlement overdue"]


async def test_open_and_unknown_orders_are_doubtful_only_when_a_report_shows_a_capture() -> None:
    pending = await _payment(status=P.PENDING, cf_payment_id=None, settlement=None)
    assert _doubts(pending, []) == []  # the janitor's to re-check
    assert _doubts(pending, [_capture()]) == ["captured at the gateway, not here"]
    assert _doubts(None, []) == []
    assert _doubts(None, [_capture()]) == ["unknown to us"]


def test_an_event_in_both_reports_counts_once_and_every_reversal_is_kept() -> None:
    report = WindowReport(NOW - timedelta(hours=1), NOW)
    capture = _capture()
    pending = _event(GatewayReconEventType.REFUND, event_status=GatewayReconEventStatus.PENDING)
    orphan = _event(GatewayReconEventType.REFUND_REVERSAL, order_id=None, refund_id="rfd_9")
    report.add(GatewayReconPage(entries=[capture, pending]))
    report.add(GatewayReconPage(entries=[capture, orphan]))
    assert (report.pages, dict(report.by_order)) == (2, {"ord_1": [capture]})
    assert report.reversals == [orphan]
