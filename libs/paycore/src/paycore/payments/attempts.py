"""What one gateway payment attempt means for our payment, decided without touching anything.

`PaymentService.apply_attempt` (verify, webhook, poll) carries the decision out and the
operator's dry run (`paycore.webhooks.dry_run`) describes it: both call `decide_attempt`, so
the dry run cannot say something the processor would not do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from paycore.gateway.schemas import GatewayAttemptStatus, GatewayPayment
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.states import CAPTURED, CLOSED_UNPAID, OPEN

P = PaymentStatus

# Gateway attempt outcome -> our payment state (None: says nothing about the payment). A failed,
# dropped or voided attempt leaves Cashfree's order ACTIVE and payable until it is paid, expires
# or is terminated: it is an event on the payment (`FAILED_ATTEMPTS`), not its end.
ATTEMPT_TARGETS: Final[Mapping[GatewayAttemptStatus, PaymentStatus | None]] = {
    GatewayAttemptStatus.SUCCEEDED: P.SUCCESS,
    GatewayAttemptStatus.PENDING: P.PROCESSING,
    GatewayAttemptStatus.FAILED: None,
    GatewayAttemptStatus.ABANDONED: None,
    GatewayAttemptStatus.VOIDED: None,
    GatewayAttemptStatus.CANCELLED: None,
    GatewayAttemptStatus.NOT_ATTEMPTED: None,
    GatewayAttemptStatus.UNKNOWN: None,
}
FAILED_ATTEMPTS: Final = frozenset(
    {
        GatewayAttemptStatus.FAILED,
        GatewayAttemptStatus.ABANDONED,
        GatewayAttemptStatus.VOIDED,
        GatewayAttemptStatus.CANCELLED,
    }
)


class AttemptAction(StrEnum):
    ATTEMPT_FAILED = "attempt_failed"  # noted once on the payment, which stays payable
    NO_CHANGE = "no_change"  # the attempt says nothing about the payment
    PROCESSING = "processing"  # an open payment waits on the pending attempt
    AMOUNT_MISMATCH = "amount_mismatch"  # never applied: `AmountMismatch`, alerted
    DUPLICATE = "duplicate"  # the capture we already hold
    SECOND_CAPTURE = "second_capture"  # another capture of a captured order: money twice
    CAPTURE = "capture"  # the payment becomes SUCCESS


@dataclass(frozen=True)
class AttemptDecision:
    action: AttemptAction
    # For PROCESSING and CAPTURE: the state to move to, and the states this was decided from
    # (a payment found in any other moved meanwhile: decide again).
    target: PaymentStatus | None = None
    expected: frozenset[PaymentStatus] | None = None
    # A success for a payment we hold closed (or still CREATED): money received, alerted.
    contradiction: bool = False


def asked_amount(attempt: GatewayPayment) -> int:
    """What the order asked, in minor units: the order amount the gateway reports, else the
    attempt's (a surcharge or an offer makes the two differ)."""
    return (
        attempt.amount_minor if attempt.order_amount_minor is None else attempt.order_amount_minor
    )


def decide_attempt(payment: Payment, attempt: GatewayPayment) -> AttemptDecision:
    """What applying `attempt` to `payment` (as it is now) does."""
    if attempt.status in FAILED_ATTEMPTS:
        return AttemptDecision(AttemptAction.ATTEMPT_FAILED)
    target = ATTEMPT_TARGETS.get(attempt.status)
    if target is None:
        return AttemptDecision(AttemptAction.NO_CHANGE)
    if target == P.PROCESSING:
        # Only an open payment waits on a pending attempt; a later or closed one ignores it.
        return AttemptDecision(AttemptAction.PROCESSING, target, OPEN - {P.PROCESSING})
    if asked_amount(attempt) != payment.amount or attempt.currency != payment.currency:
        return AttemptDecision(AttemptAction.AMOUNT_MISMATCH)
    if payment.status in CAPTURED:
        if attempt.gateway_payment_id in (payment.cf_payment_id, None):
            return AttemptDecision(AttemptAction.DUPLICATE)
        return AttemptDecision(AttemptAction.SECOND_CAPTURE)
    contradiction = payment.status in CLOSED_UNPAID or payment.status == P.CREATED
    return AttemptDecision(AttemptAction.CAPTURE, target, OPEN | CLOSED_UNPAID, contradiction)
