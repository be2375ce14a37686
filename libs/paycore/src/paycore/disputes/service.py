"""Applying what the gateway says about a dispute: stored with its `respond_by` deadline, the
disputed amount held (not refundable) while it is open, then released (won) or paid out
(lost), each once; an admin alert per stage with the deadline.

The dispute document moves first (guarded by its version; a closed dispute never reopens),
then the payment (guarded by membership of the dispute in `dispute_holds`), so repeating any
step, in order, is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from loguru import logger

from paycore.alerts import raise_alert
from paycore.disputes.models import Dispute
from paycore.gateway.schemas import GatewayDispute, GatewayDisputeOutcome
from paycore.kit import audit
from paycore.kit.events import OutboxEvent
from paycore.kit.mongo import insert_new
from paycore.kit.state import (
    CONFLICT,
    Evidence,
    TransitionRecord,
    WriteConflict,
    guarded_update,
    retry_on_conflict,
)
from paycore.payments.models import Payment
from paycore.payments.service import PaymentService

O = GatewayDisputeOutcome
FINAL: Final = frozenset({O.WON, O.LOST})


async def count_open_disputes() -> int:
    """Disputes and chargebacks not yet won or lost (the gateway's outcome open or unknown)."""
    open_outcomes = [O.OPEN.value, O.UNKNOWN.value]
    return await Dispute.get_pymongo_collection().count_documents(
        {"outcome": {"$in": open_outcomes}}
    )


@dataclass(frozen=True)
class DisputeApplied:
    dispute: Dispute
    payment: Payment
    changed: bool


class DisputeService:
    def __init__(self, payments: PaymentService | None = None) -> None:
        self.payments = payments or PaymentService()

    async def apply(self, answer: GatewayDispute, evidence: Evidence) -> DisputeApplied:
        """Records the dispute's latest stage and its effect on the payment; raises
        `PaymentNotFound` for an order we do not know."""
        payment = await self.payments.get_by_order_id(answer.order_id)
        dispute, changed = await self._record(payment, answer, evidence)
        payment = await self._apply_to_payment(dispute)
        if changed:
            await raise_alert(
                f"dispute:{dispute.dispute_id}:{dispute.status}",
                f"dispute_{dispute.outcome.value.lower()}",
                "critical" if dispute.outcome in (O.OPEN, O.LOST, O.UNKNOWN) else "high",
                dispute_id=dispute.dispute_id,
                dispute_type=dispute.dispute_type,
                dispute_status=dispute.status,
                payment_id=payment.payment_id,
                order_id=payment.order_id,
                amount=dispute.amount,
                currency=dispute.currency,
                held_amount=dispute.held_amount,
                respond_by=dispute.respond_by.isoformat() if dispute.respond_by else None,
            )
        return DisputeApplied(dispute, payment, changed)

    async def _record(
        self, payment: Payment, answer: GatewayDispute, evidence: Evidence
    ) -> tuple[Dispute, bool]:
        collection = Dispute.get_pymongo_collection()

        async def attempt() -> tuple[Dispute, bool] | WriteConflict:
            raw = await collection.find_one({"_id": answer.dispute_id})
            if raw is None:
                held = min(answer.amount_minor, max(payment.refundable_amount, 0))
                dispute = Dispute(
                    dispute_id=answer.dispute_id,
                    payment_id=payment.payment_id,
                    order_id=payment.order_id,
                    cf_payment_id=answer.gateway_payment_id,
                    dispute_type=answer.dispute_type,
                    status=answer.status,
                    outcome=answer.outcome,
                    amount=answer.amount_minor,
                    currency=answer.currency,
                    held_amount=held,
                    respond_by=answer.respond_by,
                    reason=answer.reason,
                    history=[_record_of(None, answer, evidence)],
                )
                if not await insert_new(dispute):
                    return CONFLICT
                entry = audit.new_entry(
                    f"dispute.{answer.outcome.value.lower()}",
                    after=dispute.model_dump(mode="json", exclude={"id", "revision_id", "history"}),
                    evidence=evidence.model_dump(mode="json"),
                )
                await audit.append(collection.database, "dispute", dispute.dispute_id, entry)
                return dispute, True
            dispute = Dispute.model_validate(raw)
            if dispute.status == answer.status or dispute.outcome in FINAL:
                return dispute, False  # a repeat, or a stage after the dispute was decided
            updated = await guarded_update(
                collection,
                dispute.dispute_id,
                version=dispute.version,
                set_fields={
                    "status": answer.status,
                    "outcome": answer.outcome.value,
                    "respond_by": answer.respond_by or dispute.respond_by,
                },
                history=[_record_of(dispute.status, answer, evidence)],
            )
            if updated is None:
                return CONFLICT
            return Dispute.model_validate(updated), True

        return await retry_on_conflict(attempt, dispute_id=answer.dispute_id)

    async def _apply_to_payment(self, dispute: Dispute) -> Payment:
        """Hold while open (or closed with an unknown status), release when won, pay out when
        lost: each once, by membership of the dispute in the payment's `dispute_holds`."""

        async def attempt() -> Payment | WriteConflict:
            payment = await self.payments.get(dispute.payment_id)
            holding = dispute.dispute_id in payment.dispute_holds
            settled = dispute.dispute_id in payment.settled_disputes
            if settled:
                return payment
            event: OutboxEvent | None = None
            if dispute.outcome in (O.OPEN, O.UNKNOWN):
                if holding:
                    return payment
                where = {"dispute_holds": {"$ne": dispute.dispute_id}}
                inc = {
                    "refundable_amount": -dispute.held_amount,
                    "disputed_amount": dispute.held_amount,
                }
                push = {"dispute_holds": dispute.dispute_id}
                pull = None
                event = _event("payment.disputed", payment, dispute)
            else:
                # Decided: a hold (if any) goes; lost money goes out, won money stays.
                held = dispute.held_amount if holding else 0
                where = {"settled_disputes": {"$ne": dispute.dispute_id}}
                inc = {"disputed_amount": -held}
                if dispute.outcome == O.WON:
                    inc["refundable_amount"] = held
                else:
                    inc["chargeback_amount"] = dispute.amount
                    # The bank took the whole disputed amount, held or not.
                    inc["refundable_amount"] = -(dispute.amount - held)
                push = {"settled_disputes": dispute.dispute_id}
                pull = {"dispute_holds": dispute.dispute_id} if holding else None
                event = _event(f"payment.dispute_{dispute.outcome.value.lower()}", payment, dispute)
            moved = await self.payments.repository.apply_dispute(
                payment, where=where, inc=inc, push=push, pull=pull, events=[event]
            )
            if moved is None:
                return CONFLICT
            logger.warning(
                "dispute applied to the payment",
                disputeId=dispute.dispute_id,
                paymentId=payment.payment_id,
                outcome=dispute.outcome.value,
            )
            return moved

        return await retry_on_conflict(attempt, payment_id=dispute.payment_id)


def _record_of(
    from_status: str | None, answer: GatewayDispute, evidence: Evidence
) -> TransitionRecord:
    return TransitionRecord(
        from_status=from_status,
        to_status=answer.status,
        evidence=evidence,
        note=f"{answer.outcome.value}: {answer.amount_minor} {answer.currency}",
    )


def _event(event_type: str, payment: Payment, dispute: Dispute) -> OutboxEvent:
    return OutboxEvent.of(
        event_type,
        {
            **payment.summary(),
            "dispute_id": dispute.dispute_id,
            "dispute_status": dispute.status,
            "dispute_amount": dispute.amount,
            "held_amount": dispute.held_amount,
            "respond_by": dispute.respond_by.isoformat() if dispute.respond_by else None,
        },
    )
