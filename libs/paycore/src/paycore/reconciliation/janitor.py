"""The janitor: payments whose gateway order can still change are asked again on their own
schedule, and refund reservations left inconsistent are repaired.

- `recheck_due_payments`: open payments (the webhook never came, the client never called
  verify) and payments closed unpaid (a late capture can still pay their order) that are due
  (`Payment.recheck`, see `paycore.kit.recheck`), oldest due first, in bounded batches. Each
  payment's check is on its own: a failure is recorded on that payment (`recheck.last_error`)
  and retried on its schedule, and the pass goes on.
- `repair_reservations`: a reservation whose refund was never recorded (a crash between the
  two writes) is given back, with the amount stored when it was made; a refund already final
  whose reservation is still held is applied to the payment. Keyed on the (payment, refund)
  pair, one pair at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loguru import logger
from prometheus_client import Counter

from paycore.alerts import raise_alert
from paycore.gateway.errors import GatewayNotFound
from paycore.gateway.interface import PaymentGateway
from paycore.kit.recheck import CLOSED_UNPAID, OPEN_ORDER, Backoff, Recheck
from paycore.kit.state import Evidence
from paycore.payments.errors import AmountMismatch
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.service import PaymentService
from paycore.payments.states import CLOSED_UNPAID as CLOSED_UNPAID_STATUSES
from paycore.payments.states import OPEN
from paycore.payments.verification import verify_with_gateway
from paycore.refunds.models import RefundStatus
from paycore.refunds.service import RefundService
from paycore.refunds.states import FINAL

JANITOR_MOVES = Counter(
    "paycore_janitor_transitions_total", "Stale payments moved by the janitor.", ["status"]
)
JANITOR_CHECKS = Counter(
    "paycore_janitor_checks_total",
    "Payments the janitor asked the gateway about, by outcome (ok or error).",
    ["outcome"],
)
RESERVATIONS_REPAIRED = Counter(
    "paycore_janitor_reservations_repaired_total",
    "Refund reservations repaired by the janitor, by repair (released or applied).",
    ["repair"],
)

PHASES: dict[str, tuple[frozenset[PaymentStatus], Backoff]] = {
    "OPEN": (OPEN, OPEN_ORDER),
    "CLOSED_UNPAID": (CLOSED_UNPAID_STATUSES, CLOSED_UNPAID),
}
DUE_STATUSES = OPEN | CLOSED_UNPAID_STATUSES


@dataclass
class RecheckPass:
    """What one pass did: payments checked, moved to another status, and checks that failed."""

    checked: int = 0
    moved: int = 0
    failed: int = 0


class Janitor:
    def __init__(
        self,
        gateway: PaymentGateway,
        payments: PaymentService | None = None,
        refunds: RefundService | None = None,
        *,
        order_missing_grace: timedelta = timedelta(minutes=15),
        batch: int = 100,
        max_per_pass: int = 2000,
    ) -> None:
        self.gateway = gateway
        self.payments = payments or PaymentService()
        self.refunds = refunds or RefundService(self.payments)
        # A 404 for an order is an unknown outcome (a lookup can lag its create): a CREATED
        # payment fails only when the order is still missing this long after the first 404.
        self.order_missing_grace = order_missing_grace
        self.batch = batch
        self.max_per_pass = max_per_pass

    async def verify(self, payment: Payment) -> Payment | None:
        """Asks the gateway about the payment and applies its answer (`verify_with_gateway`).

        None when the gateway knows no such order (a payment still CREATED then may never have
        reached it: it fails once the order stays missing for `order_missing_grace`) or reports
        another amount (alerted). Gateway errors propagate.
        """
        try:
            after = await verify_with_gateway(self.gateway, self.payments, payment, "reconciler")
        except GatewayNotFound:
            if payment.status == PaymentStatus.CREATED:
                await self._fail_uncreated(payment)
            return None
        except AmountMismatch:
            return None  # alerted by verify_with_gateway
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
        if outcome.changed:
            JANITOR_MOVES.labels(PaymentStatus.FAILED.value).inc()

    async def recheck_due_payments(self, now: datetime | None = None) -> RecheckPass:
        """Checks every payment due at `now` (default: the current time), oldest due first, in
        batches of `batch`, at most `max_per_pass` per pass."""
        now = now or datetime.now(UTC)
        result = RecheckPass()
        seen: set[str] = set()  # a payment whose schedule could not be written is not retaken
        while result.checked < self.max_per_pass:
            due = await self.payments.repository.list_due_for_recheck(DUE_STATUSES, now, self.batch)
            fresh = [payment for payment in due if payment.payment_id not in seen]
            if not fresh:
                break
            for payment in fresh[: self.max_per_pass - result.checked]:
                seen.add(payment.payment_id)
                await self._recheck(payment, now, result)
        return result

    async def _recheck(self, payment: Payment, now: datetime, result: RecheckPass) -> None:
        result.checked += 1
        error: str | None = None
        current = payment
        with logger.contextualize(paymentId=payment.payment_id):
            try:
                current = await self.verify(payment) or await self.payments.get(payment.payment_id)
            except Exception as exc:
                # Recorded on the payment and retried on its schedule; the pass goes on.
                error = f"{type(exc).__name__}: {exc}"[:300]
                result.failed += 1
                logger.warning("janitor check failed", error=error)
            JANITOR_CHECKS.labels("error" if error else "ok").inc()
            result.moved += current.status != payment.status
            try:
                await self.payments.repository.set_recheck(
                    payment.payment_id, next_recheck(payment.recheck, current.status, now, error)
                )
            except Exception as exc:
                logger.warning("janitor schedule not written", error=repr(exc)[:300])

    async def repair_reservations(self, older_than: timedelta, limit: int = 100) -> int:
        """Repairs inconsistent (payment, refund) reservation pairs on payments untouched for
        `older_than` (so a refund being requested right now is left alone); returns how many
        pairs were repaired. One pair's failure is logged and the sweep goes on."""
        cutoff = datetime.now(UTC) - older_than
        repaired = 0
        for payment in await self.payments.repository.list_holding_reservations(cutoff, limit):
            for refund_id in payment.refund_reservations:
                with logger.contextualize(paymentId=payment.payment_id, refundId=refund_id):
                    try:
                        repaired += await self._repair_pair(payment.payment_id, refund_id)
                    except Exception as exc:
                        logger.warning("reservation repair failed", error=repr(exc)[:300])
        return repaired

    async def _repair_pair(self, payment_id: str, refund_id: str) -> bool:
        refund = await self.refunds.find(refund_id)
        payment = await self.payments.get(payment_id)
        if refund_id not in payment.refund_reservations:
            return False  # repaired meanwhile
        if refund is None:
            amount = payment.reserved_for(refund_id)
            if amount is None:
                amount = await self._legacy_reserved_amount(payment)
            if amount is None:
                return False
            released = await self.payments.repository.release_refund(
                payment, refund_id, amount, payment.last_refund_status or "", []
            )
            if released is None:
                return False
            RESERVATIONS_REPAIRED.labels("released").inc()
            logger.warning("orphan reservation released", amount=amount)
            return True
        if refund.status in FINAL and refund.status != RefundStatus.REVERSED:
            # The refund is decided but its outcome never reached the payment.
            if await self.refunds.apply_to_payment(refund) is None:
                return False
            RESERVATIONS_REPAIRED.labels("applied").inc()
            logger.warning("final refund's reservation applied", status=refund.status.value)
            return True
        return False

    async def _legacy_reserved_amount(self, payment: Payment) -> int | None:
        """A reservation made before amounts were stored: with exactly one orphan, it is what
        the recorded refunds don't account for; otherwise an operator decides (alerted)."""
        held = payment.refund_reservations
        recorded = [await self.refunds.find(refund_id) for refund_id in held]
        orphans = [r for r, refund in zip(held, recorded, strict=True) if refund is None]
        if len(orphans) != 1:
            await raise_alert(
                f"orphan-reservations:{payment.payment_id}",
                "orphan_refund_reservations",
                payment_id=payment.payment_id,
                refund_ids=orphans,
            )
            return None
        return payment.refund_reserved_amount - sum(r.amount for r in recorded if r is not None)


def next_recheck(
    schedule: Recheck, status: PaymentStatus, now: datetime, error: str | None
) -> Recheck:
    """The payment's schedule after a check at `now` left it in `status`: the backoff of its
    phase (open, or closed unpaid), or no further check once the payment holds money."""
    for phase, (statuses, backoff) in PHASES.items():
        if status in statuses:
            return schedule.after_check(phase, backoff, now, error)
    return Recheck(due_at=None, phase="DONE", last_checked_at=now, last_error=error)
