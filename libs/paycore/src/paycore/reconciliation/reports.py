"""Cashfree's reports of a window, and the orders they show consistent with ours.

A run reads two date-range reports page by page (docs/cashfree-pg-api.md §5), in either API
version's shape (flat 2023-08-01, nested 2026-01-01; `gateway.mapping` reads both):

- the settlement reconciliation report (`POST /settlement/recon`): every event of the
  settlements made in the window (payments, refunds, reversals, disputes);
- the PG reconciliation report (`POST /recon`): the account's events in the window.

Whether `/recon` lists a capture before its settlement is not documented, so nothing here
depends on it: a capture unknown to us is found at the latest in the run whose window holds
its settlement. Cashfree documents no merchant-wide refund listing; a refund is read from the
REFUND events of these reports.

An order the reports and our records agree on costs no further call. `doubts` names what
makes an order look broken; only those orders are asked about one by one (`check_order`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from paycore.gateway.interface import PaymentGateway
from paycore.gateway.schemas import (
    GatewayReconEntry,
    GatewayReconEventStatus,
    GatewayReconEventType,
    GatewayReconPage,
    GatewayReconQuery,
    GatewaySettlementQuery,
)
from paycore.payments.models import Payment, SettlementStatus
from paycore.payments.states import CAPTURED
from paycore.refunds.models import Refund, RefundStatus
from paycore.webhooks.models import WebhookLog, WebhookStatus

SUCCESS_WEBHOOK = "PAYMENT_SUCCESS_WEBHOOK"
UNFINISHED_WEBHOOK = frozenset({WebhookStatus.RECEIVED, WebhookStatus.PROCESSING})
REFUNDED = frozenset({RefundStatus.SUCCESS, RefundStatus.REVERSED})
PAGE_LIMIT = 1000  # Cashfree's maximum page size: the fewest calls per report


@dataclass
class WindowReport:
    """The reports' successful events of the window [start, end), by order; `pages` read to
    get them."""

    start: datetime
    end: datetime
    by_order: dict[str, list[GatewayReconEntry]] = field(default_factory=lambda: defaultdict(list))
    reversals: list[GatewayReconEntry] = field(default_factory=list)
    pages: int = 0
    _seen: set[tuple[str, str | None, str | None, str | None]] = field(default_factory=set)

    def add(self, page: GatewayReconPage) -> None:
        self.pages += 1
        for entry in page.entries:
            if entry.event_status != GatewayReconEventStatus.SUCCEEDED:
                continue
            key = (entry.event_type.value, entry.event_id, entry.order_id, entry.refund_id)
            if key in self._seen:  # the same event in both reports
                continue
            self._seen.add(key)
            if entry.event_type == GatewayReconEventType.REFUND_REVERSAL:
                self.reversals.append(entry)  # with or without its order (alerted then)
            if entry.order_id:
                self.by_order[entry.order_id].append(entry)


async def read_reports(
    gateway: PaymentGateway, start: datetime, end: datetime, page_size: int = PAGE_LIMIT
) -> WindowReport:
    """Both reports of [start, end), every page of `page_size` events (10 to 1000)."""
    report = WindowReport(start, end)

    async def settlement_recon(cursor: str | None) -> GatewayReconPage:
        query = GatewaySettlementQuery(start=start, end=end, limit=page_size, cursor=cursor)
        return await gateway.settlement_recon(query)

    async def pg_recon(cursor: str | None) -> GatewayReconPage:
        query = GatewayReconQuery(start=start, end=end, limit=page_size, cursor=cursor)
        return await gateway.pg_recon(query)

    for fetch in (settlement_recon, pg_recon):
        cursor: str | None = None
        while True:
            page = await fetch(cursor)
            report.add(page)
            cursor = page.cursor
            if not cursor or not page.entries:
                break
    return report


def unapplied(log: WebhookLog, now: datetime, grace: timedelta) -> bool:
    """Received and never applied: failed, dead-lettered, or stuck longer than `grace`."""
    stuck = log.status in UNFINISHED_WEBHOOK and now - log.received_at > grace
    return log.status == WebhookStatus.FAILED or log.dead_lettered or stuck


def doubts(
    payment: Payment | None,
    entries: list[GatewayReconEntry],
    refunds: list[Refund],
    logs: list[WebhookLog],
    *,
    settlement_due_by: datetime,
    grace: timedelta,
    now: datetime,
) -> list[str]:
    """Why this order needs asking the gateway about (empty: the reports and our records
    agree); `grace` is how long a received webhook may wait to be applied. Open orders and
    payments closed unpaid are the janitor's to re-check, unless a report shows them
    captured."""
    captures = [e for e in entries if e.event_type == GatewayReconEventType.PAYMENT]
    if payment is None:
        return ["unknown to us"] if captures else []
    if payment.status not in CAPTURED:
        return ["captured at the gateway, not here"] if captures else []
    found: list[str] = []
    if len({e.gateway_payment_id for e in captures}) > 1 or payment.extra_captures:
        found.append("captured more than once")
    if not any(log.event_type == SUCCESS_WEBHOOK for log in logs):
        found.append("no success webhook")
    found += [f"webhook {log.log_id} not applied" for log in logs if unapplied(log, now, grace)]
    capture = captures[0] if captures else None
    ours = (payment.cf_payment_id, payment.captured_amount, payment.currency)
    if capture and (capture.gateway_payment_id, capture.amount_minor, capture.currency) != ours:
        found.append("capture differs")
    found += _settlement_doubts(payment, capture, settlement_due_by, now)
    reported = {e.refund_id: e for e in entries if e.event_type == GatewayReconEventType.REFUND}
    mine = {r.refund_id: r for r in refunds}
    for refund_id, event in reported.items():
        refund = mine.get(refund_id or "")
        if refund is None or refund.status not in REFUNDED or refund.amount != event.amount_minor:
            found.append(f"refund {refund_id} differs")
    found += [
        f"refund {r.refund_id} not reported"
        for r in refunds
        if r.status in REFUNDED and r.refund_id not in reported
    ]
    return found


def _settlement_doubts(
    payment: Payment, capture: GatewayReconEntry | None, due_by: datetime, now: datetime
) -> list[str]:
    """Our settlement against the reported one: the same settlement, UTR and amount, and an
    amount the charges explain; with none reported, only a settlement past its SLA."""
    ours = payment.settlement
    settled = ours is not None and ours.status == SettlementStatus.SETTLED
    if capture is None or capture.gateway_settlement_id is None:
        # Not settled in this window (or listed before its settlement): expected until due.
        return ["settlement overdue"] if not settled and now > due_by else []
    reported = (capture.gateway_settlement_id, capture.settlement_utr)
    if ours is None or not settled or (ours.cf_settlement_id, ours.utr) != reported:
        return ["settlement differs"]
    if ours.settled_amount != capture.settlement_amount_minor:
        return ["settled amount differs"]
    charges = (ours.service_charge or 0) + (ours.service_tax or 0)
    if ours.settled_amount != payment.captured_amount - charges:
        return ["settled amount unexplained"]
    return []
