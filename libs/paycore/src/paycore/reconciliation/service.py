"""Reconciliation runs.

- `reconcile`: walks the gateway's PG reconciliation report for a window and checks every
  successful payment against ours. A payment the gateway says is paid but we don't is healed
  through the same `apply_attempt` a webhook uses; what can't be healed becomes a mismatch
  item, a metric and one alert per run.

The janitor (re-checking payments on their schedule, repairing reservations) is
`paycore.reconciliation.janitor`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from loguru import logger
from prometheus_client import Counter

from paycore.alerts import raise_alert
from paycore.gateway.interface import PaymentGateway
from paycore.gateway.schemas import (
    ReconEntry,
    ReconEventStatus,
    ReconEventType,
    ReconQuery,
)
from paycore.invoices.sync import sync_invoice
from paycore.kit.ids import new_id
from paycore.kit.mongo import is_duplicate_key
from paycore.kit.state import Evidence
from paycore.payments.models import Payment
from paycore.payments.service import PaymentService
from paycore.payments.states import CAPTURED
from paycore.reconciliation.janitor import Janitor
from paycore.reconciliation.models import MismatchKind, ReconciliationItem, ReconciliationRun
from paycore.refunds.repository import RefundRepository
from paycore.refunds.service import RefundService

MISMATCHES = Counter(
    "paycore_reconciliation_mismatches_total", "Reconciliation mismatches found.", ["kind"]
)


class ReconciliationService:
    def __init__(
        self,
        gateway: PaymentGateway,
        payments: PaymentService | None = None,
        refunds: RefundRepository | None = None,
        janitor: Janitor | None = None,
    ) -> None:
        self.gateway = gateway
        self.payments = payments or PaymentService()
        self.refunds = refunds or RefundRepository()
        self.janitor = janitor or Janitor(gateway, self.payments)

    async def reconcile(self, start: datetime, end: datetime) -> ReconciliationRun:
        run = ReconciliationRun(run_id=new_id("rec"), window_start=start, window_end=end)
        await run.insert()
        cursor: str | None = None
        try:
            while True:
                page = await self.gateway.pg_recon(ReconQuery(start=start, end=end, cursor=cursor))
                for entry in page.entries:
                    if entry.event_status != ReconEventStatus.SUCCEEDED:
                        continue
                    if entry.event_type == ReconEventType.PAYMENT:
                        await self._check(run, entry)
                    elif entry.event_type == ReconEventType.REFUND_REVERSAL:
                        await self._reversed(entry)
                cursor = page.cursor
                if not cursor or not page.entries:
                    break
        except Exception as exc:
            run.status, run.error = "FAILED", repr(exc)[:500]
            run.finished_at = datetime.now(UTC)
            await run.save()
            raise
        run.status, run.finished_at = "DONE", datetime.now(UTC)
        await run.save()
        if run.mismatched:
            await raise_alert(
                f"reconciliation:{run.run_id}",
                "reconciliation_mismatch",
                run_id=run.run_id,
                mismatched=run.mismatched,
                checked=run.checked,
            )
        logger.info(
            "reconciliation finished",
            runId=run.run_id,
            checked=run.checked,
            matched=run.matched,
            mismatched=run.mismatched,
        )
        return run

    async def _reversed(self, entry: ReconEntry) -> None:
        """A refund the bank sent back: the refund turns REVERSED and the money counts as the
        payment's again (once, however often the run sees it)."""
        if entry.refund_id is None or await self.refunds.get(entry.refund_id) is None:
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
        refund = await RefundService(self.payments).reverse(entry.refund_id, evidence)
        await sync_invoice(await self.payments.repository.get(refund.payment_id))

    async def _check(self, run: ReconciliationRun, entry: ReconEntry) -> None:
        run.checked += 1
        payment = await self.payments.repository.get_by_order_id(entry.order_id or "")
        if payment is None:
            await self._mismatch(run, entry, MismatchKind.MISSING_HERE, None)
            return
        if payment.status not in CAPTURED:
            payment = await self.janitor.verify(payment) or payment
        if payment.status not in CAPTURED:
            await self._mismatch(run, entry, MismatchKind.NOT_CAPTURED_HERE, payment)
            return
        if entry.amount_minor != payment.captured_amount or entry.currency != payment.currency:
            await self._mismatch(run, entry, MismatchKind.AMOUNT, payment)
            return
        run.matched += 1
        await self.payments.repository.mark_reconciled(payment)

    async def _mismatch(
        self,
        run: ReconciliationRun,
        entry: ReconEntry,
        kind: MismatchKind,
        payment: Payment | None,
    ) -> None:
        run.mismatched += 1
        MISMATCHES.labels(kind.value).inc()
        item = ReconciliationItem(
            item_id=f"{run.run_id}:{entry.event_id or entry.gateway_payment_id}",
            run_id=run.run_id,
            kind=kind,
            order_id=entry.order_id,
            payment_id=payment.payment_id if payment else None,
            detail={
                "gateway_amount": entry.amount_minor,
                "gateway_currency": entry.currency,
                "gateway_payment_id": entry.gateway_payment_id,
                "our_status": payment.status.value if payment else None,
                "our_amount": payment.amount if payment else None,
            },
        )
        try:
            await item.insert()
        except Exception as exc:
            if not is_duplicate_key(exc):
                raise
        logger.warning("reconciliation mismatch", kind=kind.value, orderId=entry.order_id)
