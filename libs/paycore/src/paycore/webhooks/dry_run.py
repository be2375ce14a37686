"""The operator's dry run: what processing a stored webhook would change, in words, changing
nothing. It asks the same decision functions the appliers act on (`decide_attempt`,
`decide_refund_answer`, `changes_settlement`, `settled_payments`, the state tables' `verdict`),
so it cannot describe something the processor would not do. Which describer answers for an
event is the appliers' dispatch table (`appliers.HANDLERS`), kind for kind."""

from __future__ import annotations

from paycore.kit.state import Verdict
from paycore.payments.attempts import AttemptAction, asked_amount, decide_attempt
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.settlement import changes_settlement, settled_payments
from paycore.payments.states import PAYMENT_STATES
from paycore.refunds.answers import AnswerAction, decide_refund_answer
from paycore.webhooks.context import ApplyContext
from paycore.webhooks.parsing import (
    AutoRefundEvent,
    DisputeEvent,
    PaymentEvent,
    RefundEvent,
    SettlementEvent,
)


async def describe_payment(ctx: ApplyContext, event: PaymentEvent) -> list[str]:
    attempt = event.attempt
    payment = await ctx.payments.find_by_order_id(attempt.order_id)
    if payment is None:
        return [f"order {attempt.order_id} is unknown: would be kept as an orphan"]
    decision = decide_attempt(payment, attempt)
    name, status = payment.payment_id, payment.status.value
    match decision.action:
        case AttemptAction.ATTEMPT_FAILED:
            return [f"payment {name} stays {status} (attempt failed)"]
        case AttemptAction.NO_CHANGE:
            return [f"payment {name} stays {status}"]
        case AttemptAction.DUPLICATE:
            return [f"payment {name} is already {status}"]
        case AttemptAction.AMOUNT_MISMATCH:
            reported = f"{asked_amount(attempt)} {attempt.currency}"
            expected = f"{payment.amount} {payment.currency}"
            mismatch = f"amount mismatch ({reported} reported, {expected} expected)"
            return [f"payment {name}: {mismatch}: not applied, admin alerted"]
        case AttemptAction.SECOND_CAPTURE:
            capture = f"second capture {attempt.gateway_payment_id} of {attempt.amount_minor}"
            return [f"payment {name}: {capture}: recorded, admin alerted"]
    assert decision.target is not None  # PROCESSING and CAPTURE name their target
    verdict = PAYMENT_STATES.verdict(payment.status, decision.target, decision.expected)
    return [_payment_move(payment, decision.target, verdict)]


def _payment_move(payment: Payment, target: PaymentStatus, verdict: Verdict) -> str:
    name, status = payment.payment_id, payment.status.value
    if verdict == "duplicate":
        return f"payment {name} is already {target.value}"
    if verdict == "changed":
        return f"payment {name} stays {status} (a {target.value} attempt no longer applies)"
    if verdict == "refused":
        return f"payment {name} stays {status} ({target.value} refused, kept in history)"
    return f"payment {name}: {status} -> {target.value}"


async def describe_refund(ctx: ApplyContext, event: RefundEvent) -> list[str]:
    answer = event.refund
    refund = await ctx.refunds.find(answer.refund_id)
    if refund is None:
        return [f"refund {answer.refund_id} is unknown: would be adopted"]
    decision = decide_refund_answer(refund, answer)
    name, status = refund.refund_id, refund.status.value
    if decision.action == AnswerAction.AMOUNT_MISMATCH:
        reported = f"{answer.amount_minor} {answer.currency}"
        expected = f"{refund.amount} {refund.currency}"
        return [f"refund {name}: amount mismatch ({reported} reported, {expected} expected)"]
    if decision.target is None or decision.verdict == "refused":
        return [f"refund {name} stays {status}"]
    if decision.verdict == "duplicate":
        return [f"refund {name} is already {status}"]
    return [f"refund {name}: {status} -> {decision.target.value}"]


async def describe_auto_refund(ctx: ApplyContext, event: AutoRefundEvent) -> list[str]:
    return [f"auto-refund on order {event.refund.order_id}: recorded as a refund, alerted"]


async def describe_dispute(ctx: ApplyContext, event: DisputeEvent) -> list[str]:
    dispute = event.dispute
    stage = f"{dispute.status} ({dispute.outcome.value}), amount {dispute.amount_minor}"
    return [f"dispute {dispute.dispute_id} on order {dispute.order_id}: {stage}"]


async def describe_settlement(ctx: ApplyContext, event: SettlementEvent) -> list[str]:
    payments = await settled_payments(ctx.payments, ctx.gateway, event.settlement)
    if not payments:
        return ["settlement matches no payment"]
    settlement_id = event.settlement.gateway_settlement_id
    lines = []
    for payment in payments:
        held = payment.settlement.status.value if payment.settlement else "none"
        if changes_settlement(payment.settlement, settlement_id, event.status):
            lines.append(f"payment {payment.payment_id} settlement: {held} -> {event.status.value}")
        else:
            lines.append(f"payment {payment.payment_id} settlement stays {held}")
    return lines
