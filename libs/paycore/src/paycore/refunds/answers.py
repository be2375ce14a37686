"""What the gateway's answer about a refund means for our refund, decided without touching
anything.

`RefundService.apply_gateway_refund` (worker, poll, webhook) carries the decision out and the
operator's dry run (`paycore.webhooks.dry_run`) describes it: both call `decide_refund_answer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from paycore.gateway.schemas import GatewayRefund, GatewayRefundStatus
from paycore.kit.state import Verdict
from paycore.refunds.models import Refund, RefundStatus
from paycore.refunds.states import REFUND_STATES, RELEASES_RESERVATION

R = RefundStatus

# The gateway's final refund statuses -> ours; the interim ones (PENDING, ON_HOLD) move nothing.
GATEWAY_TARGETS: Final[Mapping[GatewayRefundStatus, RefundStatus]] = {
    GatewayRefundStatus.SUCCEEDED: R.SUCCESS,
    GatewayRefundStatus.FAILED: R.FAILED,
    GatewayRefundStatus.CANCELLED: R.CANCELLED,
}


class AnswerAction(StrEnum):
    AMOUNT_MISMATCH = "amount_mismatch"  # never applied: `RefundAmountMismatch`, alerted
    INTERIM = "interim"  # only the gateway's status is recorded
    TRANSITION = "transition"  # to `target`, then the payment (see `verdict`)


@dataclass(frozen=True)
class AnswerDecision:
    action: AnswerAction
    target: RefundStatus | None = None
    # For TRANSITION: what the refund's own move does (the payment step runs whatever it is,
    # so a move interrupted between the two documents completes).
    verdict: Verdict | None = None
    # A SUCCESS for a refund we hold FAILED or CANCELLED: money left that we thought stayed.
    contradiction: bool = False


def decide_refund_answer(refund: Refund, answer: GatewayRefund) -> AnswerDecision:
    """What applying the gateway's `answer` to `refund` (as it is now) does."""
    if (refund.amount, refund.currency) != (answer.amount_minor, answer.currency):
        return AnswerDecision(AnswerAction.AMOUNT_MISMATCH)
    target = GATEWAY_TARGETS.get(answer.status)
    if target is None:
        return AnswerDecision(AnswerAction.INTERIM)
    return AnswerDecision(
        AnswerAction.TRANSITION,
        target,
        REFUND_STATES.verdict(refund.status, target),
        contradiction=target == R.SUCCESS and refund.status in RELEASES_RESERVATION,
    )
