"""Refund use cases: request (reserve on the payment), then apply the gateway's final answer to
the refund and to the payment, once, whichever of the worker, a webhook or a poll comes first.

Two documents change with no transaction between them, so each step is idempotent on its own
and safe to repeat in order: the refund transition is guarded by status and version, and the
payment change by the refund's reservation (it applies only while the reservation exists).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from loguru import logger

from paycore.alerts import raise_alert
from paycore.gateway.schemas import GatewayRefund
from paycore.kit.events import OutboxEvent
from paycore.kit.ids import new_id
from paycore.kit.mongo import is_duplicate_key
from paycore.kit.state import (
    CONFLICT,
    Evidence,
    TransitionRecord,
    WriteConflict,
    retry_on_conflict,
    written,
)
from paycore.payments.errors import PaymentNotRefundable, RefundExceedsPayment
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.service import PaymentService, payment_events
from paycore.payments.states import REFUNDABLE
from paycore.refunds.answers import AnswerAction, decide_refund_answer
from paycore.refunds.errors import ExtraCaptureNotFound, RefundAmountMismatch, RefundNotFound
from paycore.refunds.metrics import observe_refund_finished
from paycore.refunds.models import Refund, RefundSource, RefundStatus
from paycore.refunds.repository import RefundRepository
from paycore.refunds.states import FINAL, REFUND_STATES, RELEASES_RESERVATION

R = RefundStatus

EVENTS_ON_ENTRY: Final[Mapping[RefundStatus, tuple[str, ...]]] = {
    R.INITIATED: ("refund.initiated", "analytics.refund.created"),
    R.PROCESSING: ("refund.processing",),
    R.SUCCESS: ("refund.succeeded", "email.payment.refund"),
    R.FAILED: ("refund.failed", "email.payment.refund"),
    R.CANCELLED: ("refund.cancelled", "email.payment.refund"),
    R.REVERSED: ("refund.reversed",),
}


def _was_released(refund: Refund) -> bool:
    """The refund was FAILED or CANCELLED before it succeeded: its reservation went back."""
    released = {status.value for status in RELEASES_RESERVATION}
    return any(record.from_status in released for record in refund.history)


def _refunded_moves(
    payment: Payment, refund: Refund, change: int, outcome: str
) -> tuple[PaymentStatus, TransitionRecord, list[OutboxEvent]]:
    """Where the payment goes when its refunded amount moves by `change` (minor units: the
    refund's amount when it succeeds, minus it when the bank sends it back): the status the
    money says, with the history entry and events of that move."""
    refunded = payment.refunded_amount + change
    if refunded <= 0:
        target = PaymentStatus.SUCCESS
    elif refunded >= payment.captured_amount:
        target = PaymentStatus.REFUNDED
    else:
        target = PaymentStatus.PARTIALLY_REFUNDED
    record = TransitionRecord(
        from_status=payment.status.value,
        to_status=target.value,
        evidence=Evidence(source="refund", reference=refund.refund_id),
        note=f"refund {refund.refund_id} of {refund.amount} {outcome}",
    )
    events = payment_events(
        payment,
        target,
        refunded_amount=refunded,
        refund_id=refund.refund_id,
        refund_amount=change,
    )
    return target, record, events


def _initiated(payment: Payment, evidence: Evidence, **fields: Any) -> Refund:
    """A new refund of `payment`, INITIATED on `evidence`: its first history entry, and
    `refund.initiated` in its outbox."""
    refund = Refund(payment_id=payment.payment_id, order_id=payment.order_id, **fields)
    refund.history = [
        TransitionRecord(from_status=None, to_status=R.INITIATED.value, evidence=evidence)
    ]
    refund.outbox = refund_events(refund, R.INITIATED)
    return refund


def refund_events(refund: Refund, target: RefundStatus, **extra: Any) -> list[OutboxEvent]:
    data = {**refund.summary(), "status": target.value, **extra}
    return [OutboxEvent.of(event_type, data) for event_type in EVENTS_ON_ENTRY[target]]


class RefundService:
    def __init__(
        self, payments: PaymentService | None = None, repository: RefundRepository | None = None
    ) -> None:
        self.payments = payments or PaymentService()
        self.repository = repository or RefundRepository()

    async def get(self, refund_id: str) -> Refund:
        refund = await self.find(refund_id)
        if refund is None:
            raise RefundNotFound(refund_id=refund_id)
        return refund

    async def find(self, refund_id: str) -> Refund | None:
        return await self.repository.get(refund_id)

    async def find_for(self, answer: GatewayRefund) -> tuple[Refund | None, GatewayRefund]:
        """Our record of the gateway's refund, and the answer under our refund id. A refund
        Cashfree made itself is known by two ids: its webhook names only `cf_refund_id` (our
        id for it then), its refund listing a `refund_id` of Cashfree's choosing; both are one
        refund, recorded and applied once."""
        refund = await self.repository.get(answer.refund_id)
        if refund is None and answer.gateway_refund_id:
            refund = await self.repository.get_by_gateway_id(
                answer.order_id, answer.gateway_refund_id
            )
        if refund is not None and refund.refund_id != answer.refund_id:
            answer = answer.model_copy(update={"refund_id": refund.refund_id})
        return refund, answer

    async def list_for_payment(self, payment_id: str) -> list[Refund]:
        """The payment's refunds (`RefundRepository.list_for_payment`)."""
        return await self.repository.list_for_payment(payment_id)

    async def request(
        self,
        payment: Payment,
        *,
        amount: int | None,
        reason: str | None,
        user_id: str,
        idempotency_key: str,
        source: RefundSource = RefundSource.API,
        refund_id: str | None = None,
        request_fingerprint: str | None = None,
    ) -> Refund:
        """Reserves the amount on the payment and records the refund as INITIATED, with
        `refund.initiated` in its outbox. Omitted amount: everything still refundable."""
        existing = await self.repository.get_by_idempotency_key(user_id, idempotency_key)
        if existing is not None:
            return existing
        if payment.status not in REFUNDABLE:
            raise PaymentNotRefundable(payment_id=payment.payment_id, status=payment.status.value)
        amount = payment.refundable_amount if amount is None else amount
        if amount <= 0 or amount > payment.refundable_amount:
            raise RefundExceedsPayment(
                requested=amount, refundable=payment.refundable_amount, currency=payment.currency
            )
        refund_id = refund_id or new_id("rfd")
        reserved = await self.payments.repository.reserve_refund(
            payment.payment_id, refund_id, amount
        )
        if reserved is None:
            current = await self.payments.get(payment.payment_id)
            if current.status not in REFUNDABLE:
                raise PaymentNotRefundable(payment_id=payment.payment_id)
            raise RefundExceedsPayment(
                requested=amount, refundable=current.refundable_amount, currency=payment.currency
            )
        refund = _initiated(
            payment,
            Evidence(source="api" if source == RefundSource.API else "webhook"),
            refund_id=refund_id,
            user_id=user_id,
            idempotency_key=idempotency_key,
            amount=amount,
            currency=payment.currency,
            reason=reason,
            source=source,
            request_fingerprint=request_fingerprint,
        )
        try:
            await self.repository.insert(refund)
        except Exception as exc:
            if not is_duplicate_key(exc):
                raise
            # A concurrent request with the same key won: give our reservation back.
            await self._release(refund_id, amount, None, payment_id=payment.payment_id)
            winner = await self.repository.get_by_idempotency_key(user_id, idempotency_key)
            if winner is None:
                raise
            return winner
        logger.info(
            "refund requested", refundId=refund_id, paymentId=payment.payment_id, amount=amount
        )
        return refund

    async def mark_processing(self, refund_id: str) -> Refund:
        """INITIATED → PROCESSING before the gateway call; counts submit attempts."""

        async def attempt() -> Refund | WriteConflict:
            refund = await self.get(refund_id)
            if refund.status != R.INITIATED:
                if refund.status == R.PROCESSING:
                    return written(
                        await self.repository.update_fields(
                            refund, {"submit_attempts": refund.submit_attempts + 1}
                        )
                    )
                return refund
            record = TransitionRecord(
                from_status=R.INITIATED.value,
                to_status=R.PROCESSING.value,
                evidence=Evidence(source="worker"),
            )
            updated = await self.repository.transition(
                refund,
                R.PROCESSING,
                record,
                refund_events(refund, R.PROCESSING),
                changes={"submit_attempts": refund.submit_attempts + 1},
            )
            return written(updated)

        return await retry_on_conflict(attempt, refund_id=refund_id)

    async def apply_gateway_refund(self, answer: GatewayRefund, evidence: Evidence) -> Refund:
        """Applies what the gateway says about a refund: a final status moves the refund and
        then the payment, once; an interim one (PENDING, ON_HOLD) is only recorded.

        Every path that applies a gateway refund (the worker's create and lookup, the poll, a
        webhook) comes here, so the amount and currency are checked once for all:
        `RefundAmountMismatch` if they differ from ours (nothing applied, a critical alert).
        A SUCCESS for a refund we hold FAILED or CANCELLED is a contradiction: applied (it
        counts against refundable), kept in the history, and alerted.
        """
        refund, answer = await self.find_for(answer)
        if refund is None:
            refund = await self.adopt_gateway_refund(answer)
        decision = decide_refund_answer(refund, answer)
        if decision.action == AnswerAction.AMOUNT_MISMATCH:
            details: dict[str, Any] = {
                "refund_id": refund.refund_id,
                "payment_id": refund.payment_id,
                "order_id": refund.order_id,
                "expected_amount": refund.amount,
                "expected_currency": refund.currency,
                "reported_amount": answer.amount_minor,
                "reported_currency": answer.currency,
            }
            await raise_alert(
                f"refund_amount_mismatch:{refund.refund_id}:{answer.status.value}",
                "refund_amount_mismatch",
                "critical",
                gateway_status=answer.status.value,
                evidence_source=evidence.source,
                **details,
            )
            raise RefundAmountMismatch(**details)
        changes: dict[str, Any] = {
            "gateway_status": answer.status.value,
            "cf_refund_id": answer.gateway_refund_id,
        }
        target = decision.target
        if target is None:  # AnswerAction.INTERIM
            if refund.gateway_status != answer.status.value and refund.status not in FINAL:
                await self.repository.update_fields(refund, changes)
            return await self.get(refund.refund_id)
        changes |= {
            "arn": answer.arn,
            "completed_at": answer.processed_at or datetime.now(UTC),
            "failure_reason": answer.status_description if target != R.SUCCESS else None,
        }
        held = refund.status
        contradiction = decision.contradiction
        note = f"gateway SUCCESS for a refund held {held.value}: applied" if contradiction else None
        refund = await self.transition(refund.refund_id, target, evidence, changes, note=note)
        await self.apply_to_payment(refund)
        if contradiction and refund.status == R.SUCCESS:
            payment = await self.payments.find(refund.payment_id)
            await raise_alert(
                f"refund_contradiction:{refund.refund_id}",
                "refund_success_after_failure",
                "critical",
                **refund.summary(),
                held_status=held.value,
                evidence_source=evidence.source,
                refundable_amount=payment.refundable_amount if payment else None,
            )
            logger.error(
                "gateway refund success contradicts our failed refund: applied",
                refundId=refund.refund_id,
                held=held.value,
            )
        return refund

    async def transition(
        self,
        refund_id: str,
        target: RefundStatus,
        evidence: Evidence,
        changes: Mapping[str, Any] | None = None,
        *,
        note: str | None = None,
    ) -> Refund:
        """Moves the refund to `target` once; a duplicate or refused move changes nothing."""

        async def attempt() -> Refund | WriteConflict:
            refund = await self.get(refund_id)
            verdict = REFUND_STATES.verdict(refund.status, target)
            if verdict == "duplicate":
                return refund
            if verdict == "refused":
                logger.warning(
                    "refund transition refused",
                    refundId=refund_id,
                    status=refund.status.value,
                    requested=target.value,
                )
                return refund
            record = TransitionRecord(
                from_status=refund.status.value,
                to_status=target.value,
                evidence=evidence,
                note=note,
            )
            updated = await self.repository.transition(
                refund, target, record, refund_events(refund, target), changes
            )
            if updated is None:
                return CONFLICT
            logger.info("refund state changed", refundId=refund_id, status=target.value)
            if target in FINAL:
                observe_refund_finished(updated)
            return updated

        return await retry_on_conflict(attempt, refund_id=refund_id)

    async def apply_to_payment(self, refund: Refund) -> Payment | None:
        """Moves the reservation to refunded (SUCCESS) or gives it back (FAILED, CANCELLED).

        Applies once: after the first time the reservation no longer exists.
        """
        if refund.status == R.SUCCESS:
            return await self._settle(refund)
        if refund.status in RELEASES_RESERVATION:
            return await self._release(
                refund.refund_id, refund.amount, refund.status.value, payment_id=refund.payment_id
            )
        return None

    async def _settle(self, refund: Refund) -> Payment | None:
        async def attempt() -> Payment | WriteConflict | None:
            payment = await self.payments.get(refund.payment_id)
            reserved = refund.refund_id in payment.refund_reservations
            unreserved_due = refund.counts_against_payment and (
                not refund.reserved or _was_released(refund)
            )
            if not reserved and (refund.refund_id in payment.settled_refunds or not unreserved_due):
                await self.payments.unchanged(payment, "duplicate")
                return None  # already applied, or never the payment's money
            target, record, events = _refunded_moves(payment, refund, refund.amount, "succeeded")
            settled = await self.payments.repository.settle_refund(
                payment, refund.refund_id, refund.amount, target, record, events, reserved=reserved
            )
            return written(settled)

        return await retry_on_conflict(attempt, payment_id=refund.payment_id)

    async def _release(
        self, refund_id: str, amount: int, outcome: str | None, payment_id: str | None = None
    ) -> Payment | None:
        if payment_id is None:
            refund = await self.repository.get(refund_id)
            payment_id = refund.payment_id if refund is not None else None
        if payment_id is None:
            return None
        known_payment_id = payment_id

        async def attempt() -> Payment | WriteConflict | None:
            payment = await self.payments.get(known_payment_id)
            if refund_id not in payment.refund_reservations:
                await self.payments.unchanged(payment, "duplicate")
                return None
            events = (
                []
                if outcome is None
                else [
                    OutboxEvent.of(
                        "payment.refund_released",
                        {**payment.summary(), "refund_id": refund_id, "refund_status": outcome},
                    )
                ]
            )
            updated = await self.payments.repository.release_refund(
                payment, refund_id, amount, outcome or payment.last_refund_status or "", events
            )
            return written(updated)

        return await retry_on_conflict(attempt, payment_id=payment_id)

    async def record_auto_refund(
        self, answer: GatewayRefund, reason: str | None, evidence: Evidence
    ) -> Refund:
        """A refund Cashfree made on its own (`refund_type` PAYMENT_AUTO_REFUND): recorded as a
        refund of ours (source AUTO), then its status applied like any other (email, history).

        Of our captured attempt, it counts against the payment's refundable amount (reserved,
        then settled). Of another attempt (a duplicate capture, never in our captured amount)
        it is recorded without touching the payment's amounts. Raises `PaymentNotFound`.
        """
        existing, answer = await self.find_for(answer)
        if existing is None:
            payment = await self.payments.get_by_order_id(answer.order_id)
            captured = answer.gateway_payment_id in (payment.cf_payment_id, None)
            note = f"gateway auto-refund: {reason}" if reason else "gateway auto-refund"
            if captured:
                await self._adopt(payment, answer, RefundSource.AUTO, note[:200])
            else:
                await self._insert_unreserved(
                    payment,
                    answer,
                    RefundSource.AUTO,
                    note[:200],
                    counts_against_payment=False,
                )
        return await self.apply_gateway_refund(answer, evidence)

    async def _insert_unreserved(
        self,
        payment: Payment,
        answer: GatewayRefund,
        source: RefundSource,
        reason: str,
        *,
        counts_against_payment: bool,
        events: list[OutboxEvent] | None = None,
    ) -> Refund:
        refund = _initiated(
            payment,
            Evidence(source="gateway", reference=answer.gateway_refund_id),
            refund_id=answer.refund_id,
            user_id=payment.user_id,
            idempotency_key=f"gateway:{answer.refund_id}",
            amount=answer.amount_minor,
            currency=answer.currency,
            reason=reason,
            source=source,
            cf_payment_id=answer.gateway_payment_id,
            counts_against_payment=counts_against_payment,
            reserved=False,
        )
        refund.outbox = [*refund.outbox, *(events or [])]
        return await self._insert_once(refund)

    async def _adopt(
        self, payment: Payment, answer: GatewayRefund, source: RefundSource, reason: str
    ) -> Refund:
        """Records a refund the gateway made without our API, reserving its amount."""
        try:
            return await self.request(
                payment,
                amount=answer.amount_minor,
                reason=reason,
                user_id=payment.user_id,
                idempotency_key=f"gateway:{answer.refund_id}",
                source=source,
                refund_id=answer.refund_id,
            )
        except (RefundExceedsPayment, PaymentNotRefundable):
            # Still record it: money left through the gateway; the alert says what to check.
            await raise_alert(
                f"external_refund_exceeds_refundable:{answer.refund_id}",
                "external_refund_exceeds_refundable",
                "high",
                refund_id=answer.refund_id,
                payment_id=payment.payment_id,
                order_id=payment.order_id,
                amount=answer.amount_minor,
                currency=answer.currency,
                source=source.value,
                refundable=payment.refundable_amount,
            )
            return await self._insert_unreserved(
                payment,
                answer,
                source,
                reason + "; exceeds what we hold as refundable",
                counts_against_payment=True,
            )

    async def reverse(self, refund_id: str, evidence: Evidence) -> Refund:
        """A successful refund the bank sent back (recon's REFUND_REVERSAL): SUCCESS →
        REVERSED, and the money counts as the payment's again: refunded goes down, refundable
        up, once (`reversed_refunds`). Alerted once. A refund in another state is left alone
        (alerted: the gateway reverses something we do not hold as refunded)."""
        refund = await self.get(refund_id)
        if refund.status not in (R.SUCCESS, R.REVERSED):
            await raise_alert(
                f"refund_reversal_unexpected:{refund_id}",
                "refund_reversal_unexpected",
                "critical",
                **{**refund.summary(), "evidence_source": evidence.source},
            )
            return refund
        refund = await self.transition(refund_id, R.REVERSED, evidence)
        if refund.counts_against_payment:
            await self._restore(refund)
        await raise_alert(
            f"refund_reversed:{refund_id}",
            "refund_reversed",
            "high",
            **{**refund.summary(), "evidence_source": evidence.source},
        )
        return refund

    async def _restore(self, refund: Refund) -> Payment | None:
        async def attempt() -> Payment | WriteConflict | None:
            payment = await self.payments.get(refund.payment_id)
            if refund.refund_id in payment.reversed_refunds:
                await self.payments.unchanged(payment, "duplicate")
                return None  # already applied
            target, record, events = _refunded_moves(
                payment, refund, -refund.amount, "reversed: refundable again"
            )
            updated = await self.payments.repository.reverse_refund(
                payment, refund.refund_id, refund.amount, target, record, events
            )
            return written(updated)

        return await retry_on_conflict(attempt, payment_id=refund.payment_id)

    async def refund_extra_capture(self, payment_id: str, cf_payment_id: str, by: str) -> Refund:
        """Refunds a second capture on one order (money received twice): a refund of that
        attempt's amount that never touches the payment's own refundable amount, executed by
        the refund-worker like any other (`refund.initiated`). Idempotent: the refund id is
        derived from the attempt. Raises `PaymentNotFound`, `ExtraCaptureNotFound`."""
        payment = await self.payments.get(payment_id)
        if cf_payment_id not in payment.extra_captures:
            raise ExtraCaptureNotFound(payment_id=payment_id, cf_payment_id=cf_payment_id)
        refund_id = f"rfd_extra_{cf_payment_id}"
        existing = await self.repository.get(refund_id)
        if existing is not None:
            return existing
        attempt = await self.payments.attempt(cf_payment_id)
        amount = attempt.amount if attempt else payment.amount
        refund = _initiated(
            payment,
            Evidence(source="operator", reference=by),
            refund_id=refund_id,
            user_id=payment.user_id,
            idempotency_key=f"extra:{cf_payment_id}",
            amount=amount,
            currency=payment.currency,
            reason="refund of a second capture on the same order",
            source=RefundSource.API,
            cf_payment_id=cf_payment_id,
            counts_against_payment=False,
            reserved=False,
        )
        return await self._insert_once(refund)

    async def _insert_once(self, refund: Refund) -> Refund:
        """Stores a new refund whose id is derived (from the gateway's refund or attempt), or
        returns the one a concurrent or earlier call stored under that id."""
        try:
            return await self.repository.insert(refund)
        except Exception as exc:
            if not is_duplicate_key(exc):
                raise
            return await self.get(refund.refund_id)

    async def adopt_gateway_refund(self, answer: GatewayRefund) -> Refund:
        """A refund made outside our API (the gateway's dashboard): record it and reserve its
        amount, so applying its outcome works like any other refund."""
        payment = await self.payments.get_by_order_id(answer.order_id)
        return await self._adopt(
            payment, answer, RefundSource.GATEWAY, "made in the gateway dashboard"
        )
