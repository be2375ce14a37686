"""Payment use cases shared by every service: the one `transition()`, and applying what the
gateway says about a payment (from verify, a webhook or a poll) through it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from loguru import logger

from paycore.gateway.schemas import AttemptStatus
from paycore.gateway.schemas import Payment as GatewayAttempt
from paycore.kit.events import OutboxEvent
from paycore.kit.state import ChangedConcurrently, Evidence, InvalidTransition, TransitionRecord
from paycore.payments.errors import AmountMismatch, PaymentNotFound
from paycore.payments.models import Payment, PaymentStatus, Transaction
from paycore.payments.repository import PaymentRepository
from paycore.payments.states import PAYMENT_STATES

P = PaymentStatus

# What the outbox of a payment receives when it enters each state.
EVENTS_ON_ENTRY: Final[Mapping[PaymentStatus, tuple[str, ...]]] = {
    P.PENDING: ("payment.created", "analytics.payment.created"),
    P.AUTHORIZING: ("payment.processing",),
    P.PROCESSING: ("payment.processing",),
    P.SUCCESS: ("payment.success", "email.payment.success", "analytics.payment.success"),
    P.FAILED: ("payment.failed", "email.payment.failed", "analytics.payment.failed"),
    P.EXPIRED: ("payment.cancelled",),
    P.CANCELLED: ("payment.cancelled",),
    P.PARTIALLY_REFUNDED: ("payment.refunded",),
    P.REFUNDED: ("payment.refunded",),
}

# Gateway attempt outcome -> our payment state (None: says nothing about the payment).
ATTEMPT_TARGETS: Final[Mapping[AttemptStatus, PaymentStatus | None]] = {
    AttemptStatus.SUCCEEDED: P.SUCCESS,
    AttemptStatus.FAILED: P.FAILED,
    AttemptStatus.ABANDONED: P.FAILED,
    AttemptStatus.VOIDED: P.FAILED,
    AttemptStatus.CANCELLED: P.FAILED,
    AttemptStatus.PENDING: P.PROCESSING,
    AttemptStatus.NOT_ATTEMPTED: None,
    AttemptStatus.UNKNOWN: None,
}


@dataclass(frozen=True)
class TransitionOutcome:
    payment: Payment
    changed: bool
    # Why nothing changed: "duplicate" (already there) or "refused" (not allowed from here).
    reason: str | None = None


def payment_events(payment: Payment, target: PaymentStatus, **extra: Any) -> list[OutboxEvent]:
    data = {**payment.summary(), "status": target.value, "previous_status": payment.status.value}
    data.update(extra)
    return [OutboxEvent.of(event_type, data) for event_type in EVENTS_ON_ENTRY.get(target, ())]


class PaymentService:
    def __init__(self, repository: PaymentRepository | None = None) -> None:
        self.repository = repository or PaymentRepository()

    async def get(self, payment_id: str) -> Payment:
        payment = await self.repository.get(payment_id)
        if payment is None:
            raise PaymentNotFound(payment_id=payment_id)
        return payment

    async def get_by_order_id(self, order_id: str) -> Payment:
        payment = await self.repository.get_by_order_id(order_id)
        if payment is None:
            raise PaymentNotFound(order_id=order_id)
        return payment

    async def transition(
        self,
        payment_id: str,
        target: PaymentStatus,
        evidence: Evidence,
        *,
        changes: Mapping[str, Any] | None = None,
        note: str | None = None,
        keep_refused: bool = False,
    ) -> TransitionOutcome:
        """Moves the payment to `target` once, with its history entry and outbox events.

        Repeating it is harmless ("duplicate"). A transition the table doesn't allow changes
        nothing: with `keep_refused` (evidence from the gateway) it is kept in the history,
        otherwise `InvalidTransition` is raised.
        """
        for _ in range(8):
            payment = await self.get(payment_id)
            if payment.status == target:
                return TransitionOutcome(payment, changed=False, reason="duplicate")
            record = TransitionRecord(
                from_status=payment.status.value,
                to_status=target.value,
                evidence=evidence,
                note=note,
            )
            if not PAYMENT_STATES.allows(payment.status, target):
                if not keep_refused:
                    raise InvalidTransition(
                        f"a {payment.status.value} payment cannot become {target.value}",
                        status_now=payment.status.value,
                        requested=target.value,
                    )
                logger.info(
                    "transition refused; kept in history",
                    paymentId=payment.payment_id,
                    status=payment.status.value,
                    requested=target.value,
                )
                if await self.repository.record_ignored(payment, record) is None:
                    continue
                return TransitionOutcome(payment, changed=False, reason="refused")
            events = payment_events(payment, target, **dict(changes or {}))
            updated = await self.repository.transition(payment, target, record, events, changes)
            if updated is not None:
                logger.info(
                    "payment state changed",
                    paymentId=payment.payment_id,
                    orderId=payment.order_id,
                    status=target.value,
                    previous=payment.status.value,
                    source=evidence.source,
                )
                return TransitionOutcome(updated, changed=True)
        raise ChangedConcurrently(payment_id=payment_id)

    async def apply_attempt(self, attempt: GatewayAttempt, evidence: Evidence) -> TransitionOutcome:
        """Applies a gateway payment attempt (verify, webhook or poll) to our payment.

        A success whose amount or currency differs from ours never marks the payment paid:
        `AmountMismatch` is raised for the caller to record and alert on.
        """
        payment = await self.get_by_order_id(attempt.order_id)
        await self.repository.save_transaction(
            Transaction(
                cf_payment_id=attempt.gateway_payment_id,
                payment_id=payment.payment_id,
                order_id=payment.order_id,
                status=attempt.status.value,
                amount=attempt.amount_minor,
                currency=attempt.currency,
                payment_method=attempt.payment_method,
                payment_group=attempt.payment_group,
                bank_reference=attempt.bank_reference,
                failure_reason=_failure_reason(attempt),
                raw=attempt.model_dump(mode="json"),
            )
        )
        target = ATTEMPT_TARGETS.get(attempt.status)
        if target is None:
            return TransitionOutcome(payment, changed=False, reason="no_change")
        if target == P.SUCCESS and (
            attempt.amount_minor != payment.amount or attempt.currency != payment.currency
        ):
            raise AmountMismatch(
                payment_id=payment.payment_id,
                expected_amount=payment.amount,
                expected_currency=payment.currency,
                reported_amount=attempt.amount_minor,
                reported_currency=attempt.currency,
            )
        changes: dict[str, Any] = {"payment_method": attempt.payment_method}
        if target == P.SUCCESS:
            changes |= {
                "cf_payment_id": attempt.gateway_payment_id,
                "captured_amount": attempt.amount_minor,
                "refundable_amount": attempt.amount_minor,
                "failure_reason": None,
            }
        elif target == P.FAILED:
            changes["failure_reason"] = _failure_reason(attempt)
        return await self.transition(
            payment.payment_id, target, evidence, changes=changes, keep_refused=True
        )


def _failure_reason(attempt: GatewayAttempt) -> str | None:
    if attempt.status == AttemptStatus.ABANDONED:
        return "USER_DROPPED"
    if attempt.status == AttemptStatus.SUCCEEDED:
        return None
    if attempt.error is not None:
        return attempt.error.reason or attempt.error.code or attempt.error.description
    return attempt.message or attempt.status.value
