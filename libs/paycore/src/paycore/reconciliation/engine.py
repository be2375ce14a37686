"""The reconciliation engine: each order of a window compared with Cashfree, both ways.

A run reads Cashfree's reports of its window (`reports.read_reports`: a bounded number of
pages) and takes every order the window names on either side (the reports, our payments created
in it) plus, on daily and manual runs, our captured payments still waiting for a settlement and
the orders of open items. An order the reports and our records agree on costs no further call
(`reports.doubts`); for each other one (`check_order`) it asks the gateway for the order, its
attempts, refunds and settlements and compares them with ours:

- payments: a gateway success we don't know (MISSING_HERE), money we hold that the gateway never
  captured (MISSING_AT_GATEWAY), a success we missed (STATUS: healed through `verify_with_gateway`,
  the same `apply_attempt` a webhook uses), captured amount or currency (AMOUNT), a second
  success on one order that is not refunded, or two payments of one invoice both holding
  captured money (DUPLICATE_CAPTURE);
- refunds: a final gateway refund we don't hold (healed: recorded and applied as its webhook
  would be, a dashboard or auto-refund), one we hold final that the gateway lacks or decided
  otherwise (healed when ours is still open, else REFUND_INCONSISTENT), amounts;
- settlements: a settlement whose webhook we missed (SETTLEMENT_MISSING: recorded as the
  webhook would have), captured − service charge − tax = settled (SETTLEMENT_AMOUNT, with the
  UTR), and
  no settlement past the payment method's SLA (SETTLEMENT_DELAYED); before the SLA a missing
  settlement is expected, not a break;
- webhook logs: a success whose webhook never reached us (WEBHOOK_MISSING; HEALED, not
  alerted, when our payment already holds what the gateway captured) and webhooks
  received but never applied (WEBHOOK_UNAPPLIED), each past a grace for Cashfree's retries.

Each break is a `ReconciliationItem` keyed by kind and subject, so a later run updates the same
item: an open break is alerted once (`raise_alert` with the item's key), a healed one is kept
for the record, and an open item whose order a run finds consistent is closed. A run's id
names its window: re-running it (after a crash half-way) gives the same items.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger
from prometheus_client import Counter, Gauge, Histogram

from paycore.alerts import raise_alert
from paycore.audit.models import Actor
from paycore.audit.trail import AuditTrail
from paycore.gateway.errors import GatewayNotFound
from paycore.gateway.interface import PaymentGateway
from paycore.gateway.schemas import (
    GatewayAttemptStatus,
    GatewayPayment,
    GatewayReconEntry,
    GatewayReconEventType,
    GatewayRefund,
    GatewayRefundStatus,
    GatewaySettlement,
    GatewaySettlementStatus,
)
from paycore.kit.state import Evidence
from paycore.payments.models import Payment, PaymentStatus, SettlementStatus
from paycore.payments.settlement import record_settlement
from paycore.payments.states import CAPTURED
from paycore.reconciliation.janitor import Janitor
from paycore.reconciliation.models import (
    ItemStatus,
    MismatchKind,
    ReconciliationItem,
    ReconciliationRun,
)
from paycore.reconciliation.operations import resolve_item, run_id_for
from paycore.reconciliation.reports import (
    PAGE_LIMIT,
    SUCCESS_WEBHOOK,
    WindowReport,
    doubts,
    read_reports,
    unapplied,
)
from paycore.reconciliation.repository import RUN_COUNTS, ReconciliationRepository
from paycore.refunds.models import Refund, RefundStatus
from paycore.refunds.service import RefundService
from paycore.webhooks.repository import WebhookLogRepository

MISMATCHES = Counter(
    "paycore_reconciliation_mismatches_total",
    "Reconciliation breaks found for the first time, by kind.",
    ["kind"],
)
for _kind in MismatchKind:  # exposed at 0, so increase() sees the first one
    MISMATCHES.labels(_kind.value)
HEALED = Counter(
    "paycore_reconciliation_healed_total",
    "Reconciliation breaks healed from the gateway's record, by kind.",
    ["kind"],
)
ITEMS_OPEN = Gauge(
    "paycore_reconciliation_items_open", "Open reconciliation items, by kind.", ["kind"]
)
RUN_SECONDS = Histogram(
    "paycore_reconciliation_run_duration_seconds",
    "How long a reconciliation run took, by schedule.",
    ["schedule"],
    buckets=(1, 5, 15, 60, 300, 900, 3600),
)
LAST_SUCCESS = Gauge(
    "paycore_reconciliation_last_success_timestamp_seconds",
    "When a reconciliation run last finished without errors (Unix time), by schedule.",
    ["schedule"],
)

RECONCILER = Actor(kind="service", id="reconciler")
HOLDING = (PaymentStatus.SUCCESS, PaymentStatus.PARTIALLY_REFUNDED)  # captured money kept
GATEWAY_REFUND_FINAL = {
    GatewayRefundStatus.SUCCEEDED: RefundStatus.SUCCESS,
    GatewayRefundStatus.FAILED: RefundStatus.FAILED,
    GatewayRefundStatus.CANCELLED: RefundStatus.CANCELLED,
}


@dataclass
class Finding:
    kind: MismatchKind
    order_id: str
    detail: dict[str, Any]
    payment_id: str | None = None
    refund_id: str | None = None
    healed: bool = False
    subject: str | None = None  # what the break is about, when not the refund or the order

    @property
    def item_id(self) -> str:
        return f"{self.kind.value}:{self.subject or self.refund_id or self.order_id}"

    def ids(self) -> dict[str, str | None]:
        """The records the break is about."""
        return {
            "order_id": self.order_id,
            "payment_id": self.payment_id,
            "refund_id": self.refund_id,
        }


def differs(ours: Any, gateway: Any) -> dict[str, Any]:
    return {"ours": ours, "gateway": gateway}


def differing(*fields: tuple[str, Any, Any]) -> dict[str, Any]:
    """`{name: differs(ours, gateway)}` of the (name, ours, gateway) fields that differ."""
    return {name: differs(ours, gateway) for name, ours, gateway in fields if ours != gateway}


@dataclass
class _Progress:
    checked_orders: set[str] = field(default_factory=set)
    found: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


class ReconciliationEngine:
    def __init__(
        self,
        gateway: PaymentGateway,
        janitor: Janitor | None = None,
        *,
        settlement_sla: Mapping[str, timedelta] | None = None,
        default_settlement_sla: timedelta = timedelta(days=3),
        unsettled_lookback: timedelta = timedelta(days=10),
        webhook_grace: timedelta = timedelta(hours=1),
        audit: AuditTrail | None = None,
        report_page_size: int = PAGE_LIMIT,
    ) -> None:
        self.gateway = gateway
        self.janitor = janitor or Janitor(gateway)
        self.payments = self.janitor.payments
        self.refunds: RefundService = self.janitor.refunds
        self.settlement_sla = dict(settlement_sla or {})
        self.default_settlement_sla = default_settlement_sla
        self.unsettled_lookback = unsettled_lookback
        # Cashfree retries a webhook for a while; a success with no webhook is a break only
        # this long after the attempt, and a received webhook unapplied this long after.
        self.webhook_grace = webhook_grace
        self.audit = audit or AuditTrail()
        self.report_page_size = report_page_size
        self.repository = ReconciliationRepository()
        self.webhook_logs = WebhookLogRepository()

    # Runs -------------------------------------------------------------------------------

    async def run(
        self,
        start: datetime,
        end: datetime,
        schedule: str = "manual",
        now: datetime | None = None,
        *,
        every_order: bool = False,
    ) -> ReconciliationRun:
        """Reconciles the window [start, end); `now` decides which settlements are due. A
        run for a window that has one already is that run again (resumed, same items).
        `every_order` asks Cashfree about each order, also those the reports agree on, open
        and closed unpaid ones included (after a restore from a backup, say)."""
        now = now or datetime.now(UTC)
        began = time.monotonic()
        run = await self._start(start, end, schedule)
        progress = _Progress()
        with logger.contextualize(runId=run.run_id):
            try:
                await self._compare(run, progress, start, end, now, every_order)
            except Exception as exc:
                # Cashfree's reports could not be read: the run ends FAILED, its window is
                # run again.
                progress.errors.append(f"reports: {type(exc).__name__}: {exc}"[:300])
                logger.warning("reconciliation reports not read", error=repr(exc))
            run.closed = await self._close_fixed(run, progress, now)
            run.status = "FAILED" if progress.errors else "DONE"
            run.error = "; ".join(progress.errors)[:1000] or None
            run.finished_at = datetime.now(UTC)
            await run.save()
            RUN_SECONDS.labels(schedule).observe(time.monotonic() - began)
            if run.status == "DONE":
                LAST_SUCCESS.labels(schedule).set(time.time())
            await self.refresh_open_gauge()
            counts = {name: getattr(run, name) for name in RUN_COUNTS}
            logger.info("reconciliation finished", status=run.status, **counts)
        return run

    async def _compare(
        self,
        run: ReconciliationRun,
        progress: _Progress,
        start: datetime,
        end: datetime,
        now: datetime,
        every_order: bool,
    ) -> None:
        """Reads the reports of [start, end), then compares each order; one order's failure
        is recorded and the others go on."""
        report = await read_reports(self.gateway, start, end, self.report_page_size)
        run.report_pages = report.pages
        for entry in report.reversals:  # first, so their refunds compare as reversed
            try:
                await self._reversed(entry)
            except Exception as exc:
                progress.errors.append(f"reversal {entry.refund_id}: {exc!r}"[:300])
        open_orders = set(await self.repository.open_item_orders())
        for order_id in await self._orders_of(report, run.schedule, open_orders, now):
            try:
                findings = await self._check(order_id, report, open_orders, run, now, every_order)
            except Exception as exc:
                # The run goes on; it ends FAILED, so its window is run again.
                progress.errors.append(f"{order_id}: {type(exc).__name__}: {exc}"[:300])
                logger.warning("order not reconciled", orderId=order_id, error=repr(exc))
                continue
            progress.checked_orders.add(order_id)
            run.checked += 1
            if not [f for f in findings if not f.healed]:
                run.matched += 1
            for finding in findings:
                progress.found.add(finding.item_id)
                await self._record(run, finding, now)

    async def _start(self, start: datetime, end: datetime, schedule: str) -> ReconciliationRun:
        fresh = ReconciliationRun(
            run_id=run_id_for(schedule, start, end),
            window_start=start,
            window_end=end,
            schedule=schedule,
        )
        run = await self.repository.insert_run(fresh)
        if run is fresh:
            return run
        # Again from the start: the items are keyed, so the same breaks update the same items.
        for name in RUN_COUNTS:
            setattr(run, name, 0)
        run.status, run.error, run.finished_at = "RUNNING", None, None
        run.started_at = datetime.now(UTC)
        await run.save()
        return run

    async def _orders_of(
        self, report: WindowReport, schedule: str, open_orders: set[str], now: datetime
    ) -> list[str]:
        """Every order the window names, on either side, in a stable order."""
        orders = dict.fromkeys(report.by_order)
        created = await self.payments.repository.order_ids_created(report.start, report.end)
        orders.update(dict.fromkeys(created))
        if schedule != "hourly":
            # Captured payments still waiting for a settlement, until it comes or is late;
            # and the orders of open items, checked again so the fixed ones close.
            since = now - self.unsettled_lookback
            awaiting = await self.payments.repository.order_ids_awaiting_settlement(since)
            orders.update(dict.fromkeys(awaiting))
            orders.update(dict.fromkeys(sorted(open_orders)))
        return list(orders)

    async def _check(
        self,
        order_id: str,
        report: WindowReport,
        open_orders: set[str],
        run: ReconciliationRun,
        now: datetime,
        every_order: bool = False,
    ) -> list[Finding]:
        """The order against the reports; asked about at the gateway only when it has an open
        item or the reports leave a doubt (or `every_order`)."""
        entries = report.by_order.get(order_id, [])
        payment = await self.payments.find_by_order_id(order_id)
        if every_order:
            reasons = ["every order asked for"]
        elif order_id in open_orders:
            reasons = ["open item"]
        else:
            reasons = await self._doubts(payment, entries, now)
        if not reasons:
            if payment is not None and any(
                e.event_type == GatewayReconEventType.PAYMENT for e in entries
            ):
                await self.payments.repository.mark_reconciled(payment)
            return []
        logger.debug("order asked about", orderId=order_id, doubts=reasons)
        run.asked_gateway += 1
        return await self.check_order(order_id, now)

    async def _doubts(
        self, payment: Payment | None, entries: list[GatewayReconEntry], now: datetime
    ) -> list[str]:
        if payment is None:
            return doubts(None, entries, [], [], settlement_due_by=now, grace=timedelta(), now=now)
        found = doubts(
            payment,
            entries,
            await self.refunds.list_for_payment(payment.payment_id),
            await self.webhook_logs.list_for_order(payment.order_id),
            settlement_due_by=_captured_at(payment) + self.sla_for(payment.payment_method),
            grace=self.webhook_grace,
            now=now,
        )
        if payment.status in CAPTURED and await self._check_invoice_paid_twice(payment):
            found.append("invoice paid twice")
        return found

    async def _reversed(self, entry: GatewayReconEntry) -> None:
        """A refund the bank sent back: the refund turns REVERSED and the money counts as the
        payment's again (once, however often a run sees it)."""
        if entry.refund_id is None or await self.refunds.find(entry.refund_id) is None:
            await raise_alert(
                f"refund_reversal_unmatched:{entry.event_id or entry.refund_id}",
                "refund_reversal_unmatched",
                "high",
                refund_id=entry.refund_id,
                order_id=entry.order_id,
                amount=entry.amount_minor,
            )
            return
        evidence = Evidence(
            source="reconciler", reference=entry.event_id, detail={"event": "REFUND_REVERSAL"}
        )
        await self.refunds.reverse(entry.refund_id, evidence)

    # One order ---------------------------------------------------------------------------

    async def check_order(self, order_id: str, now: datetime) -> list[Finding]:
        """Compares one order with the gateway; heals the safe classes on the way."""
        payment = await self.payments.find_by_order_id(order_id)
        try:
            await self.gateway.get_order(order_id)
            attempts = await self.gateway.list_payments(order_id)
        except GatewayNotFound:
            attempts = []
        succeeded = sorted(
            (a for a in attempts if a.status == GatewayAttemptStatus.SUCCEEDED),
            key=lambda a: a.initiated_at or datetime.min.replace(tzinfo=UTC),
        )
        if payment is None:
            if not succeeded:
                return []
            return [
                Finding(
                    MismatchKind.MISSING_HERE,
                    order_id,
                    {
                        "status": differs(None, "SUCCESS"),
                        "amount": differs(None, succeeded[0].amount_minor),
                        "currency": differs(None, succeeded[0].currency),
                        "gateway_payment_ids": [a.gateway_payment_id for a in succeeded],
                    },
                )
            ]
        findings: list[Finding] = []
        if payment.status not in CAPTURED and succeeded:
            payment = await self._heal_payment(payment, findings)
        # After the heal: a dropped webhook whose payment now agrees with the gateway is healed.
        findings = await self._check_webhooks(payment, succeeded, now) + findings
        if payment.status not in CAPTURED:
            return findings
        if not succeeded:
            findings.append(
                Finding(
                    MismatchKind.MISSING_AT_GATEWAY,
                    order_id,
                    {
                        "status": differs(payment.status.value, None),
                        "captured_amount": differs(payment.captured_amount, None),
                    },
                    payment_id=payment.payment_id,
                )
            )
            return findings
        captured = next(
            (a for a in succeeded if a.gateway_payment_id == payment.cf_payment_id), succeeded[0]
        )
        amounts = differing(
            ("captured_amount", payment.captured_amount, captured.amount_minor),
            ("currency", payment.currency, captured.currency),
        )
        if amounts:
            findings.append(
                Finding(MismatchKind.AMOUNT, order_id, amounts, payment_id=payment.payment_id)
            )
        gateway_refunds = await self.gateway.list_refunds(order_id)
        findings += await self._check_duplicates(payment, succeeded, captured, gateway_refunds)
        findings += await self._check_invoice_paid_twice(payment)
        findings += await self._check_refunds(payment, gateway_refunds)
        findings += await self._check_settlement(payment, succeeded, now)
        if all(finding.healed for finding in findings):
            await self.payments.repository.mark_reconciled(payment)
        return findings

    async def _check_webhooks(
        self, payment: Payment, succeeded: list[GatewayPayment], now: datetime
    ) -> list[Finding]:
        """The webhook log against the gateway: a success whose webhook never came, and
        webhooks received but never applied (failed, dead-lettered, or stuck)."""
        logs = await self.webhook_logs.list_for_order(payment.order_id)
        findings: list[Finding] = []
        captured = succeeded[0] if succeeded else None
        when = (captured.completed_at or captured.initiated_at) if captured else None
        heard = any(log.event_type == SUCCESS_WEBHOOK for log in logs)
        if (
            captured is not None
            and not heard
            and when is not None
            and now - when > self.webhook_grace
        ):
            # The money is right when our payment holds what the gateway captured (the janitor
            # or this run applied its record, audited): the dropped webhook is kept as a HEALED
            # item, with no alert. Otherwise it stays open and is alerted.
            agrees = (
                payment.status in CAPTURED
                and payment.captured_amount == captured.amount_minor
                and payment.currency == captured.currency
            )
            findings.append(
                Finding(
                    MismatchKind.WEBHOOK_MISSING,
                    payment.order_id,
                    {
                        "webhook": differs(None, SUCCESS_WEBHOOK),
                        "gateway_payment_id": captured.gateway_payment_id,
                        "captured_at": when.isoformat(),
                        **({"healed_by": _captured_by(payment)} if agrees else {}),
                    },
                    payment_id=payment.payment_id,
                    healed=agrees,
                )
            )
        for log in logs:
            if unapplied(log, now, self.webhook_grace):
                findings.append(
                    Finding(
                        MismatchKind.WEBHOOK_UNAPPLIED,
                        payment.order_id,
                        {
                            "webhook_status": differs(log.status.value, "applied"),
                            "event_type": log.event_type,
                            "log_id": log.log_id,
                            "reason": log.reason or log.last_error,
                        },
                        payment_id=payment.payment_id,
                        subject=log.log_id,
                    )
                )
        return findings

    async def _heal_payment(self, payment: Payment, findings: list[Finding]) -> Payment:
        """A success we missed (a lost webhook): applied from the gateway's record."""
        before = payment.status
        after = await self.janitor.verify(payment) or await self.payments.get(payment.payment_id)
        healed = after.status in CAPTURED
        findings.append(
            Finding(
                MismatchKind.STATUS,
                payment.order_id,
                {"status": differs(before.value, "SUCCESS"), "after": after.status.value},
                payment_id=payment.payment_id,
                healed=healed,
            )
        )
        if healed:
            await self.audit.append(
                RECONCILER,
                "payment.reconciled",
                "payment",
                payment.payment_id,
                before={"status": before.value},
                after={"status": after.status.value, "captured_amount": after.captured_amount},
            )
        return after

    async def _check_duplicates(
        self,
        payment: Payment,
        succeeded: list[GatewayPayment],
        captured: GatewayPayment,
        gateway_refunds: list[GatewayRefund],
    ) -> list[Finding]:
        """A second success on the order is a break until the gateway has refunded it."""
        refunded: dict[str, int] = {}
        for refund in gateway_refunds:
            if refund.status == GatewayRefundStatus.SUCCEEDED and refund.gateway_payment_id:
                refunded[refund.gateway_payment_id] = (
                    refunded.get(refund.gateway_payment_id, 0) + refund.amount_minor
                )
        unrefunded = [
            a
            for a in succeeded
            if a is not captured and refunded.get(a.gateway_payment_id, 0) < a.amount_minor
        ]
        if not unrefunded:
            return []
        return [
            Finding(
                MismatchKind.DUPLICATE_CAPTURE,
                payment.order_id,
                {
                    "captures": differs(1, len(succeeded)),
                    "captured_payment_id": captured.gateway_payment_id,
                    "duplicate_payment_ids": [a.gateway_payment_id for a in unrefunded],
                    "duplicate_amount": sum(a.amount_minor for a in unrefunded),
                },
                payment_id=payment.payment_id,
            )
        ]

    async def _check_invoice_paid_twice(self, payment: Payment) -> list[Finding]:
        """Two payments of one invoice both holding captured money (not refunded in full)."""
        if payment.invoice_number is None:
            return []
        paid = await self.payments.repository.payment_ids_of_invoice(
            payment.user_id, payment.invoice_number, HOLDING
        )
        if len(paid) < 2:
            return []
        return [
            Finding(
                MismatchKind.DUPLICATE_CAPTURE,
                payment.order_id,
                {
                    "invoice_payments": differs(1, len(paid)),
                    "invoice_number": payment.invoice_number,
                    "payment_ids": paid,
                },
                payment_id=payment.payment_id,
                subject=f"invoice:{payment.user_id}:{payment.invoice_number}",
            )
        ]

    async def _check_refunds(
        self, payment: Payment, gateway_refunds: list[GatewayRefund]
    ) -> list[Finding]:
        ours = {r.refund_id: r for r in await self.refunds.list_for_payment(payment.payment_id)}
        # Cashfree's own refunds are ours under its cf_refund_id (`RefundService.find_for`).
        by_gateway_id = {r.cf_refund_id: r.refund_id for r in ours.values() if r.cf_refund_id}
        findings: list[Finding] = []
        for answer in gateway_refunds:
            mine = ours.pop(answer.refund_id, None) or ours.pop(
                by_gateway_id.get(answer.gateway_refund_id or "", ""), None
            )
            target = GATEWAY_REFUND_FINAL.get(answer.status)
            if target is None:
                continue  # still pending at the gateway: expected, not yet due
            if mine is not None and not _same(mine.status, target):
                # In flight while we asked: its webhook or the worker may have applied it since.
                mine = await self.refunds.find(mine.refund_id) or mine
            if mine is None or not _same(mine.status, target):
                findings.append(await self._heal_refund(payment, answer, mine, target))
                continue
            fields = differing(
                ("amount", mine.amount, answer.amount_minor),
                ("currency", mine.currency, answer.currency),
            )
            if None not in (mine.cf_payment_id, answer.gateway_payment_id):
                # Which attempt it refunded: ours of a duplicate is not the customer's payment.
                fields |= differing(
                    ("cf_payment_id", mine.cf_payment_id, answer.gateway_payment_id)
                )
            if fields:
                findings.append(self._refund_break(payment, answer.refund_id, fields))
        for mine in ours.values():
            if mine.status in (RefundStatus.SUCCESS, RefundStatus.REVERSED):
                fields = {"status": differs(mine.status.value, None)}
                findings.append(self._refund_break(payment, mine.refund_id, fields))
        return findings

    async def _heal_refund(
        self,
        payment: Payment,
        answer: GatewayRefund,
        mine: Refund | None,
        target: RefundStatus,
    ) -> Finding:
        """A refund outcome we missed (or a refund made without our API): applied as its
        webhook would have been. What cannot be applied stays an open break."""
        before = mine.status.value if mine else None
        evidence = Evidence(
            source="reconciler",
            reference=answer.gateway_refund_id,
            detail={"gateway_status": answer.status.value},
        )
        fields = {"status": differs(before, answer.status.value), "amount": answer.amount_minor}
        try:
            if mine is None and answer.gateway_payment_id not in (
                payment.cf_payment_id,
                None,
            ):
                # Of another attempt (a duplicate capture): never in our captured amount.
                after = await self.refunds.record_auto_refund(
                    answer, "found by reconciliation", evidence
                )
            else:
                after = await self.refunds.apply_gateway_refund(answer, evidence)
        except Exception as exc:
            logger.warning("refund not healed", refundId=answer.refund_id, error=repr(exc))
            return self._refund_break(payment, answer.refund_id, {**fields, "error": str(exc)})
        healed = after.status == target or _agrees(after.status, target)
        if healed:
            await self.audit.append(
                RECONCILER,
                "refund.reconciled",
                "refund",
                after.refund_id,
                before={"status": before},
                after={"status": after.status.value, "amount": after.amount},
            )
        finding = self._refund_break(payment, answer.refund_id, fields)
        finding.healed = healed
        return finding

    @staticmethod
    def _refund_break(payment: Payment, refund_id: str, fields: dict[str, Any]) -> Finding:
        return Finding(
            MismatchKind.REFUND_INCONSISTENT,
            payment.order_id,
            fields,
            payment_id=payment.payment_id,
            refund_id=refund_id,
        )

    async def _check_settlement(
        self, payment: Payment, succeeded: list[GatewayPayment], now: datetime
    ) -> list[Finding]:
        try:
            settlements = await self.gateway.get_order_settlements(payment.order_id)
        except GatewayNotFound:
            settlements = []
        settled = [s for s in settlements if s.status == GatewaySettlementStatus.SETTLED]
        if not settled:
            captured_at = _captured_at(payment)
            due_by = captured_at + self.sla_for(payment.payment_method)
            if now <= due_by:
                return []  # expected, not yet due
            return [
                Finding(
                    MismatchKind.SETTLEMENT_DELAYED,
                    payment.order_id,
                    {
                        "settlement": differs("due", None),
                        "captured_at": captured_at.isoformat(),
                        "due_by": due_by.isoformat(),
                        "payment_method": payment.payment_method,
                    },
                    payment_id=payment.payment_id,
                )
            ]
        settlement = settled[0]
        findings = await self._record_missed_settlement(payment, settlement)
        gross = sum(a.amount_minor for a in succeeded)  # a settlement covers every capture
        charges = (settlement.service_charge_minor or 0) + (settlement.service_tax_minor or 0)
        expected = gross - charges
        fields: dict[str, Any] = {}
        if settlement.settlement_amount_minor != expected:
            fields["settlement_amount"] = differs(expected, settlement.settlement_amount_minor)
        ours = payment.settlement
        if not settlement.utr:
            fields["utr"] = differs("present", None)
        elif ours is not None and ours.utr and ours.utr != settlement.utr:
            fields["utr"] = differs(ours.utr, settlement.utr)
        if not fields:
            return findings
        return [
            *findings,
            Finding(
                MismatchKind.SETTLEMENT_AMOUNT,
                payment.order_id,
                {
                    **fields,
                    "captured": gross,
                    "service_charge": settlement.service_charge_minor,
                    "service_tax": settlement.service_tax_minor,
                    "cf_settlement_id": settlement.gateway_settlement_id,
                    "utr": settlement.utr,
                },
                payment_id=payment.payment_id,
            ),
        ]

    async def _record_missed_settlement(
        self, payment: Payment, settlement: GatewaySettlement
    ) -> list[Finding]:
        """A settlement whose webhook we missed: recorded as the webhook would have."""
        ours = payment.settlement
        if ours is not None and ours.status in (
            SettlementStatus.SETTLED,
            SettlementStatus.REVERSED,
        ):
            return []
        changed = await record_settlement(
            self.payments, payment, SettlementStatus.SETTLED, settlement
        )
        if changed:
            await self.audit.append(
                RECONCILER,
                "payment.settlement_reconciled",
                "payment",
                payment.payment_id,
                before={"settlement": ours.status.value if ours else None},
                after={
                    "settlement": SettlementStatus.SETTLED.value,
                    "cf_settlement_id": settlement.gateway_settlement_id,
                    "utr": settlement.utr,
                },
            )
        return [
            Finding(
                MismatchKind.SETTLEMENT_MISSING,
                payment.order_id,
                {
                    "settlement": differs(ours.status.value if ours else None, "SETTLED"),
                    "cf_settlement_id": settlement.gateway_settlement_id,
                    "utr": settlement.utr,
                },
                payment_id=payment.payment_id,
                healed=changed,
            )
        ]

    def sla_for(self, payment_method: str | None) -> timedelta:
        return self.settlement_sla.get(payment_method or "", self.default_settlement_sla)

    # Items --------------------------------------------------------------------------------

    async def _record(self, run: ReconciliationRun, finding: Finding, now: datetime) -> None:
        item = ReconciliationItem(
            item_id=finding.item_id,
            kind=finding.kind,
            status=ItemStatus.HEALED if finding.healed else ItemStatus.OPEN,
            detail=finding.detail,
            **finding.ids(),
            run_id=run.run_id,
            last_run_id=run.run_id,
            created_at=now,
            last_seen_at=now,
        )
        if not await self.repository.insert_item(item):
            # Found before: the same item, its alert not raised again (`seen_again`), unless
            # it was healed or closed and is broken again: reopened, with its own alert.
            run.mismatched += not finding.healed
            changes = {"last_run_id": run.run_id, "last_seen_at": now, "detail": finding.detail}
            if not finding.healed:
                reopened = await self.repository.reopen(item.item_id)
                if reopened is not None:
                    MISMATCHES.labels(finding.kind.value).inc()
                    await self._alert(run, finding, f"reopened:{reopened}")
            healed = await self.repository.seen_again(
                item.item_id, changes, healed=finding.healed, at=now
            )
            if healed:
                run.healed += 1
                HEALED.labels(finding.kind.value).inc()
            return
        if finding.healed:
            run.healed += 1
            HEALED.labels(finding.kind.value).inc()
            logger.info("reconciliation healed", kind=finding.kind.value, orderId=finding.order_id)
            return
        run.mismatched += 1
        MISMATCHES.labels(finding.kind.value).inc()
        await self._alert(run, finding)

    async def _alert(self, run: ReconciliationRun, finding: Finding, reopen: str = "") -> None:
        """One alert per item and opening: keyed by the item (and, for a reopened item, the
        how-many-th reopening), so re-runs never repeat it and each reopening is told."""
        suffix = f":{reopen}" if reopen else ""
        await raise_alert(
            f"reconciliation:{finding.item_id}{suffix}",
            "reconciliation_break",
            "high",
            item_id=finding.item_id,
            break_kind=finding.kind.value,
            run_id=run.run_id,
            fields=finding.detail,
            reopened=bool(reopen),
            **finding.ids(),
        )
        logger.warning(
            "reconciliation break",
            kind=finding.kind.value,
            orderId=finding.order_id,
            reopened=bool(reopen),
        )

    async def _close_fixed(self, run: ReconciliationRun, progress: _Progress, now: datetime) -> int:
        """Open items of the orders this run checked that it no longer finds: fixed."""
        if not progress.checked_orders:
            return 0
        closed = 0
        for item_id in await self.repository.open_item_ids(progress.checked_orders):
            if item_id not in progress.found:
                closed += await self.repository.close(item_id, now, run.run_id)
        return closed

    async def resolve(self, item_id: str, note: str, by: str) -> ReconciliationItem:
        """An operator closes an open item with a note (`operations.resolve_item`)."""
        item = await resolve_item(item_id, note, Actor(kind="operator", id=by), self.audit)
        await self.refresh_open_gauge()
        return item

    async def refresh_gauges(self) -> None:
        """Open items by kind and the last successful run per schedule, from the database, so
        the metrics hold after a restart and follow resolutions made through the API."""
        await self.refresh_open_gauge()
        for schedule in ("hourly", "daily", "manual"):
            finished = await self.repository.last_done_at(schedule)
            if finished is not None:
                LAST_SUCCESS.labels(schedule).set(finished.timestamp())

    async def refresh_open_gauge(self) -> None:
        for kind, count in (await self.repository.open_counts()).items():
            ITEMS_OPEN.labels(kind).set(count)


def _same(ours: RefundStatus, target: RefundStatus) -> bool:
    return ours == target or _agrees(ours, target)


def _agrees(ours: RefundStatus, target: RefundStatus) -> bool:
    """A refund we hold REVERSED did succeed at the gateway first."""
    return ours == RefundStatus.REVERSED and target == RefundStatus.SUCCESS


def _captured_at(payment: Payment) -> datetime:
    for record in payment.history:
        if record.to_status == PaymentStatus.SUCCESS.value:
            return record.at
    return payment.created_at


def _captured_by(payment: Payment) -> dict[str, Any] | None:
    """The evidence of the transition that captured the payment (who applied the gateway's
    record, e.g. the janitor's `verify`), or None when its history holds none."""
    for record in reversed(payment.history):
        if record.to_status == PaymentStatus.SUCCESS.value and not record.ignored:
            return {
                "source": record.evidence.source,
                "reference": record.evidence.reference,
                "at": record.at.isoformat(),
            }
    return None
