"""Reconciliation runs and the janitor.

- `reconcile`: walks the gateway's PG reconciliation report for a window and checks every
  successful payment against ours. A payment the gateway says is paid but we don't is healed
  through the same `apply_attempt` a webhook uses; what can't be healed becomes a mismatch
  item, a metric and one alert per run.
- `verify_stale_payments`: payments left open (the webhook never came, the client never
  called verify) are asked of the gateway and moved by what it says.
- `release_orphan_reservations`: a reservation whose refund was never recorded (a crash
  between the two writes) is given back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loguru import logger
from prometheus_client import Counter

from paycore.alerts import raise_alert
from paycore.gateway.errors import GatewayNotFound
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
from paycore.payments.errors import AmountMismatch
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.service import PaymentService
from paycore.payments.states import CAPTURED, OPEN
from paycore.payments.verification import verify_with_gateway
from paycore.reconciliation.models import MismatchKind, ReconciliationItem, ReconciliationRun
from paycore.refunds.repository import RefundRepository

MISMATCHES = Counter(
    "paycore_reconciliation_mismatches_total", "Reconciliation mismatches found.", ["kind"]
)
JANITOR_MOVES = Counter(
    "paycore_janitor_transitions_total", "Stale payments moved by the janitor.", ["status"]
)


class ReconciliationService:
    def __init__(
        self,
        gateway: PaymentGateway,
        payments: PaymentService | None = None,
        refunds: RefundRepository | None = None,
        *,
        order_missing_grace: timedelta = timedelta(minutes=15),
    ) -> None:
        self.gateway = gateway
        self.payments = payments or PaymentService()
        self.refunds = refunds or RefundRepository()
        # A 404 for an order is an unknown outcome (a lookup can lag its create): a CREATED
        # payment fails only when the order is still missing this long after the first 404.
        self.order_missing_grace = order_missing_grace

    async def reconcile(self, start: datetime, end: datetime) -> ReconciliationRun:
        run = ReconciliationRun(run_id=new_id("rec"), window_start=start, window_end=end)
        await run.insert()
        cursor: str | None = None
        try:
            while True:
                page = await self.gateway.pg_recon(ReconQuery(start=start, end=end, cursor=cursor))
                for entry in page.entries:
                    if (entry.event_type, entry.event_status) == (
                        ReconEventType.PAYMENT,
                        ReconEventStatus.SUCCEEDED,
                    ):
                        await self._check(run, entry)
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

    async def _check(self, run: ReconciliationRun, entry: ReconEntry) -> None:
        run.checked += 1
        payment = await self.payments.repository.get_by_order_id(entry.order_id or "")
        if payment is None:
            await self._mismatch(run, entry, MismatchKind.MISSING_HERE, None)
            return
        if payment.status not in CAPTURED:
            payment = await self.verify(payment) or payment
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

    async def verify(self, payment: Payment) -> Payment | None:
        """Asks the gateway about the payment and applies its answer (`verify_with_gateway`).

        None when the gateway knows no such order (a payment still CREATED then may never have
        reached it: it fails once the order stays missing for `order_missing_grace`) or reports
        another amount (alerted).
        """
        try:
            after = await verify_with_gateway(self.gateway, self.payments, payment, "reconciler")
        except GatewayNotFound:
            if payment.status == PaymentStatus.CREATED:
                await self._fail_uncreated(payment)
            return None
        except AmountMismatch as exc:
            await raise_alert(
                f"amount-mismatch:{payment.payment_id}", "amount_mismatch", **exc.details
            )
            return None
        if after.status != payment.status:
            JANITOR_MOVES.labels(after.status.value).inc()
        return after

    async def _fail_uncreated(self, payment: Payment) -> None:
        now = datetime.now(UTC)
        if payment.order_missing_since is None:
            # The first 404: look again after the grace before deciding anything.
            await self.payments.repository.append_events(
                payment, [], changes={"order_missing_since": now}
            )
            return
        if now - payment.order_missing_since < self.order_missing_grace:
            return
        outcome = await self.payments.transition(
            payment.payment_id,
            PaymentStatus.FAILED,
            Evidence(
                source="reconciler",
                detail={
                    "job": "janitor",
                    "order_missing_since": payment.order_missing_since.isoformat(),
                },
            ),
            changes={"failure_reason": "ORDER_NOT_CREATED"},
            keep_refused=True,
            # Decided on this read: a payment that moved meanwhile is left alone.
            expected=frozenset({PaymentStatus.CREATED}),
        )
        await sync_invoice(outcome.payment)
        if outcome.changed:
            JANITOR_MOVES.labels(PaymentStatus.FAILED.value).inc()

    async def verify_stale_payments(self, older_than: timedelta, limit: int = 100) -> int:
        """Open payments untouched for `older_than`: ask the gateway and apply its answer."""
        cutoff = datetime.now(UTC) - older_than
        moved = 0
        for payment in await self.payments.repository.list_open_since(OPEN, cutoff, limit):
            updated = await self.verify(payment)
            current = updated or await self.payments.get(payment.payment_id)
            moved += current.status != payment.status
        return moved

    async def release_orphan_reservations(self, older_than: timedelta) -> int:
        """Reservations whose refund document was never written are given back."""
        cutoff = datetime.now(UTC) - older_than
        collection = self.payments.repository.collection
        released = 0
        query = {"refund_reservations.0": {"$exists": True}, "updated_at": {"$lt": cutoff}}
        async for raw in collection.find(query).limit(100):
            payment = Payment.model_validate(raw)
            for refund_id in payment.refund_reservations:
                if await self.refunds.get(refund_id) is not None:
                    continue
                amount = await self._reserved_amount(payment, refund_id)
                if amount is None:
                    continue
                current = await self.payments.get(payment.payment_id)
                if await self.payments.repository.release_refund(
                    current, refund_id, amount, current.last_refund_status or "", []
                ):
                    released += 1
                    logger.warning("orphan reservation released", refundId=refund_id)
        return released

    async def _reserved_amount(self, payment: Payment, refund_id: str) -> int | None:
        """A reservation holds no amount of its own; with exactly one orphan it is the rest."""
        recorded = sum(
            refund.amount
            for refund in await self.refunds.list_for_payment(payment.payment_id)
            if refund.refund_id in payment.refund_reservations
        )
        orphans = [r for r in payment.refund_reservations if await self.refunds.get(r) is None]
        if len(orphans) != 1:
            await raise_alert(
                f"orphan-reservations:{payment.payment_id}",
                "orphan_refund_reservations",
                payment_id=payment.payment_id,
                refund_ids=orphans,
            )
            return None
        return payment.refund_reserved_amount - recorded
