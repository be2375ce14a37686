"""Payment use cases shared by every service: the one `transition()`, and applying what the
gateway says about a payment (from verify, a webhook or a poll) through it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from loguru import logger

from paycore.alerts import raise_alert
from paycore.gateway.schemas import GatewayAttemptStatus, GatewayPayment
from paycore.kit.errors import InvalidTransition
from paycore.kit.events import OutboxEvent
from paycore.kit.state import (
    CONFLICT,
    Evidence,
    TransitionRecord,
    WriteConflict,
    read_again_after,
    retry_on_conflict,
)
from paycore.payments.attempts import AttemptAction, AttemptDecision, asked_amount, decide_attempt
from paycore.payments.errors import AmountMismatch, PaymentNotFound
from paycore.payments.metrics import observe_failed_attempt, observe_outcome
from paycore.payments.models import HistoryQuery, Payment, PaymentStatus, Transaction
from paycore.payments.repository import PaymentRepository
from paycore.payments.states import CAPTURED, PAYMENT_STATES

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

# What the outbox of a payment receives for each failed attempt (the email links back to the
# same checkout, which is still payable).
ATTEMPT_FAILED_EVENTS: Final = (
    "payment.attempt_failed",
    "email.payment.failed",
    "analytics.payment.failed",
)


@dataclass(frozen=True)
class TransitionOutcome:
    payment: Payment
    changed: bool
    # Why nothing changed: "duplicate" (already there), "refused" (not allowed from here),
    # "changed" (not in the expected state any more), "no_change", "attempt_failed" or
    # "second_capture" (recorded, alerted); or what a change was: "contradiction" (a success
    # for a payment we held closed or CREATED).
    reason: str | None = None


def payment_events(payment: Payment, target: PaymentStatus, **extra: Any) -> list[OutboxEvent]:
    data = {**payment.summary(), "status": target.value, "previous_status": payment.status.value}
    data.update(extra)
    return [OutboxEvent.of(event_type, data) for event_type in EVENTS_ON_ENTRY.get(target, ())]


class PaymentService:
    def __init__(
        self,
        repository: PaymentRepository | None = None,
        *,
        on_attempt_failed: Callable[[Payment], Awaitable[None]] | None = None,
    ) -> None:
        self.repository = repository or PaymentRepository()
        # Called once per failed attempt, whichever path noted it (verify, webhook, janitor):
        # the fraud repeated-failures count.
        self.on_attempt_failed = on_attempt_failed

    async def get(self, payment_id: str) -> Payment:
        payment = await self.find(payment_id)
        if payment is None:
            raise PaymentNotFound(payment_id=payment_id)
        return payment

    async def get_by_order_id(self, order_id: str) -> Payment:
        payment = await self.find_by_order_id(order_id)
        if payment is None:
            raise PaymentNotFound(order_id=order_id)
        return payment

    async def find(self, payment_id: str) -> Payment | None:
        return await self.repository.get(payment_id)

    async def find_by_order_id(self, order_id: str) -> Payment | None:
        return await self.repository.get_by_order_id(order_id)

    async def list_for_user(self, user_id: str, history: HistoryQuery) -> list[Payment]:
        """The user's payments, newest first (`PaymentRepository.list_for_user`)."""
        return await self.repository.list_for_user(user_id, history)

    async def attempt(self, cf_payment_id: str) -> Transaction | None:
        """One stored gateway attempt, by Cashfree's payment id."""
        return await self.repository.transaction(cf_payment_id)

    async def attempts_of(self, payment_id: str) -> list[Transaction]:
        """The gateway attempts stored for the payment, oldest first."""
        return await self.repository.transactions_of(payment_id)

    async def unchanged(self, payment: Payment, reason: str) -> TransitionOutcome:
        """An outcome that wrote nothing (a repeat, or a decision made on an older read). Its
        invoice is still brought in step: a crash between a payment's write and its invoice's
        is repaired by the repeat (`sync_invoice` is version-guarded, so usually a no-op)."""
        await self.repository.sync_invoice(payment)
        return TransitionOutcome(payment, changed=False, reason=reason)

    async def transition(
        self,
        payment_id: str,
        target: PaymentStatus,
        evidence: Evidence,
        *,
        changes: Mapping[str, Any] | None = None,
        note: str | None = None,
        keep_refused: bool = False,
        expected: frozenset[PaymentStatus] | None = None,
        read: Payment | None = None,
    ) -> TransitionOutcome:
        """Moves the payment to `target` once, with its history entry and outbox events.

        Repeating it is harmless ("duplicate"). A transition the table doesn't allow changes
        nothing: with `keep_refused` (evidence from the gateway) it is kept in the history,
        otherwise `InvalidTransition` is raised. `expected`: the states the caller decided
        from; in any other state nothing is written ("changed"), so a decision made on an
        older read never applies to a payment that moved meanwhile. `read`: the payment as the
        caller just read it, decided on first instead of reading it again (the guarded update
        refuses it if it moved; the next try reads afresh).
        """

        async def fresh() -> Payment:
            return await self.get(payment_id)

        current = fresh if read is None else read_again_after(read, fresh)

        async def attempt() -> TransitionOutcome | WriteConflict:
            payment = await current()
            verdict = PAYMENT_STATES.verdict(payment.status, target, expected)
            if verdict in ("duplicate", "changed"):
                return await self.unchanged(payment, verdict)
            record = TransitionRecord(
                from_status=payment.status.value,
                to_status=target.value,
                evidence=evidence,
                note=note,
            )
            if verdict == "refused":
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
                    return CONFLICT
                return TransitionOutcome(payment, changed=False, reason="refused")
            events = payment_events(payment, target, **dict(changes or {}))
            updated = await self.repository.transition(payment, target, record, events, changes)
            if updated is None:
                return CONFLICT
            observe_outcome(updated)
            logger.info(
                "payment state changed",
                paymentId=payment.payment_id,
                orderId=payment.order_id,
                status=target.value,
                previous=payment.status.value,
                source=evidence.source,
            )
            return TransitionOutcome(updated, changed=True)

        return await retry_on_conflict(attempt, payment_id=payment_id)

    async def apply_attempt(self, attempt: GatewayPayment, evidence: Evidence) -> TransitionOutcome:
        """Applies one gateway payment attempt (verify, webhook or poll) to our payment.

        The attempt is stored (`transactions`). A failed attempt is announced once (event,
        email, analytics) and leaves the payment open. A success whose order amount or currency
        differs from ours never marks the payment paid: `AmountMismatch` is raised for the
        caller to record and alert on. A success for a payment we hold closed (or CREATED) is
        money received: applied ("contradiction") and alerted; a second success beyond the
        captured one is recorded and alerted ("second_capture").
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
                order_amount=attempt.order_amount_minor,
                payment_method=attempt.payment_method,
                payment_group=attempt.payment_group,
                bank_reference=attempt.bank_reference,
                failure_reason=_failure_reason(attempt),
                raw=attempt.model_dump(mode="json"),
            )
        )
        decision = decide_attempt(payment, attempt)
        match decision.action:
            case AttemptAction.ATTEMPT_FAILED:
                return await self._attempt_failed(payment, attempt, evidence)
            case AttemptAction.NO_CHANGE | AttemptAction.DUPLICATE:
                return await self.unchanged(payment, decision.action.value)
            case AttemptAction.AMOUNT_MISMATCH:
                raise AmountMismatch(
                    payment_id=payment.payment_id,
                    expected_amount=payment.amount,
                    expected_currency=payment.currency,
                    reported_amount=asked_amount(attempt),
                    reported_currency=attempt.currency,
                )
            case AttemptAction.SECOND_CAPTURE:
                return await self._second_capture(payment, attempt, evidence)
            case AttemptAction.PROCESSING:
                return await self.transition(
                    payment.payment_id,
                    P.PROCESSING,
                    evidence,
                    changes={"payment_method": attempt.payment_method},
                    keep_refused=True,
                    expected=decision.expected,
                    read=payment,
                )
        return await self._capture(payment, attempt, evidence, decision)

    async def _capture(
        self,
        payment: Payment,
        attempt: GatewayPayment,
        evidence: Evidence,
        decision: AttemptDecision,
    ) -> TransitionOutcome:
        paid = attempt.amount_minor
        changes: dict[str, Any] = {
            "payment_method": attempt.payment_method,
            "cf_payment_id": attempt.gateway_payment_id,
            "captured_amount": paid,
            "refundable_amount": paid,
            "payment_amount": paid,
            # A customer-paid fee or an offer is a valid success: kept apart, not a mismatch.
            "surcharge_amount": max(paid - payment.amount, 0),
            "offer_amount": max(payment.amount - paid, 0),
            "failure_reason": None,
        }
        before = payment.status
        contradiction = decision.contradiction
        note = (
            f"success for a payment held {before.value}: money received" if contradiction else None
        )
        outcome = await self.transition(
            payment.payment_id,
            P.SUCCESS,
            evidence,
            changes=changes,
            note=note,
            keep_refused=True,
            expected=decision.expected,
            read=payment,
        )
        if outcome.reason in ("changed", "duplicate"):
            # Moved meanwhile: captured by another attempt or by ours (both read "duplicate":
            # SUCCESS is the target), or closed. Decide again on the new state, so that another
            # attempt's capture makes this one a second capture, not a repeat.
            return await self.apply_attempt(attempt, evidence)
        if contradiction and outcome.changed:
            await raise_alert(
                f"payment_success_after_close:{payment.payment_id}:{attempt.gateway_payment_id}",
                "payment_success_after_close",
                "critical",
                **{
                    **outcome.payment.summary(),
                    "held_status": before.value,
                    "captured_amount": paid,
                    "evidence_source": evidence.source,
                },
            )
            logger.error(
                "gateway success contradicts our closed payment: applied",
                paymentId=payment.payment_id,
                held=before.value,
            )
            return TransitionOutcome(outcome.payment, changed=True, reason="contradiction")
        return outcome

    async def _second_capture(
        self, payment: Payment, attempt: GatewayPayment, evidence: Evidence
    ) -> TransitionOutcome:
        """Another successful attempt on an order already captured: money received twice.
        Recorded on the payment and alerted once; the operator refunds it (or Cashfree
        auto-refunds it, which arrives as an auto-refund)."""
        cf_payment_id = attempt.gateway_payment_id

        def extra_capture(payment: Payment) -> list[OutboxEvent]:
            data = {
                **payment.summary(),
                "extra_cf_payment_id": cf_payment_id,
                "extra_amount": attempt.amount_minor,
            }
            return [OutboxEvent.of("payment.extra_capture", data)]

        noted = await self._note_attempt_once(
            payment,
            "extra_captures",
            cf_payment_id,
            evidence=evidence,
            note=f"second capture {cf_payment_id} of {attempt.amount_minor}: money received",
            events_of=extra_capture,
            repeat="second_capture",
        )
        if isinstance(noted, TransitionOutcome):
            return noted
        await raise_alert(
            f"second_capture:{noted.payment_id}:{cf_payment_id}",
            "second_capture",
            "critical",
            **noted.summary(),
            extra_cf_payment_id=cf_payment_id,
            extra_amount=attempt.amount_minor,
            refund_command=(
                "python -m webhook_processor.ops refund-extra-capture "
                f"{noted.payment_id} {cf_payment_id}"
            ),
        )
        return TransitionOutcome(noted, changed=False, reason="second_capture")

    async def _attempt_failed(
        self, payment: Payment, attempt: GatewayPayment, evidence: Evidence
    ) -> TransitionOutcome:
        """Announces a failed attempt once: the payment stays as it is (its order is still
        payable), its history notes the attempt, and the events go out. The reason is
        "attempt_failed" the first time, "duplicate" after."""
        cf_payment_id = attempt.gateway_payment_id
        reason = _failure_reason(attempt)

        def attempt_failed(payment: Payment) -> list[OutboxEvent]:
            if payment.status in CAPTURED:
                return []
            data = {
                **payment.summary(),
                "cf_payment_id": cf_payment_id,
                "attempt_status": attempt.status.value,
                "failure_reason": reason,
                "payment_method": attempt.payment_method,
            }
            return [OutboxEvent.of(kind, data) for kind in ATTEMPT_FAILED_EVENTS]

        noted = await self._note_attempt_once(
            payment,
            "failed_attempts",
            cf_payment_id,
            evidence=evidence,
            note=f"attempt {cf_payment_id} {attempt.status.value}: {reason}",
            events_of=attempt_failed,
            repeat="duplicate",
        )
        if isinstance(noted, TransitionOutcome):
            return noted
        observe_failed_attempt(attempt.payment_method)
        if self.on_attempt_failed is not None:
            await self.on_attempt_failed(noted)
        logger.info(
            "payment attempt failed; the order stays payable",
            paymentId=noted.payment_id,
            cfPaymentId=cf_payment_id,
            reason=reason,
        )
        return TransitionOutcome(noted, changed=False, reason="attempt_failed")

    async def _note_attempt_once(
        self,
        payment: Payment,
        attempts_field: Literal["failed_attempts", "extra_captures"],
        cf_payment_id: str,
        *,
        evidence: Evidence,
        note: str,
        events_of: Callable[[Payment], list[OutboxEvent]],
        repeat: str,
    ) -> Payment | TransitionOutcome:
        """Adds attempt `cf_payment_id` to the payment's `attempts_field` once, with a history
        `note` and the events `events_of` the payment, in one guarded write that leaves the
        status as it is; after a conflict it reads the payment again and decides again.
        Returns the payment as written, or, if the attempt is noted already, the outcome that
        wrote nothing, with reason `repeat`."""
        current = read_again_after(payment, lambda: self.get(payment.payment_id))

        async def note_once() -> Payment | TransitionOutcome | WriteConflict:
            payment = await current()
            if cf_payment_id in getattr(payment, attempts_field):
                return await self.unchanged(payment, repeat)
            record = history_note(payment, evidence, note)
            updated = await self.repository.note_attempt_once(
                payment, attempts_field, cf_payment_id, record, events_of(payment)
            )
            return CONFLICT if updated is None else updated

        return await retry_on_conflict(note_once, payment_id=payment.payment_id)


def history_note(payment: Payment, evidence: Evidence, note: str) -> TransitionRecord:
    """A history entry that changes no state: what arrived, kept as `ignored`."""
    return TransitionRecord(
        from_status=payment.status.value,
        to_status=payment.status.value,
        evidence=evidence,
        note=note,
        ignored=True,
    )


def _failure_reason(attempt: GatewayPayment) -> str | None:
    if attempt.status == GatewayAttemptStatus.ABANDONED:
        return "USER_DROPPED"
    if attempt.status == GatewayAttemptStatus.SUCCEEDED:
        return None
    if attempt.error is not None:
        return attempt.error.reason or attempt.error.code or attempt.error.description
    return attempt.message or attempt.status.value
