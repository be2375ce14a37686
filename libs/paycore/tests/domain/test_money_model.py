"""Hypothesis: any sequence of gateway attempts (webhooks, verifies, polls), refund requests and
gateway refund answers, replayed against the real services and database, agrees with a small
model of the money and keeps its invariants:

- refunded + reserved ≤ captured, and captured is the payment's amount once paid, never more;
- a success is never downgraded (a captured payment stays captured);
- every refund's reservation is settled (SUCCEEDED) or released (FAILED, CANCELLED) exactly once:
  refunded is the sum of the refunds that succeeded, reserved the sum of those still open.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paycore.gateway.schemas import (
    GatewayAttemptStatus,
    GatewayRefund,
    GatewayRefundStatus,
)
from paycore.kit.ids import new_id
from paycore.kit.state import Evidence
from paycore.payments.errors import PaymentNotRefundable, RefundExceedsPayment
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService
from paycore.payments.states import CAPTURED
from paycore.refunds.models import Refund
from paycore.refunds.service import RefundService
from paycore.testing import create_payment, gateway_attempt, unique_suffix

pytestmark = pytest.mark.usefixtures("domain_db")

AMOUNT = 10_000
EVIDENCE = Evidence(source="webhook")
FINAL = {GatewayRefundStatus.SUCCEEDED, GatewayRefundStatus.FAILED, GatewayRefundStatus.CANCELLED}

Attempt = tuple[str, GatewayAttemptStatus]
Request = tuple[str, int]
Answer = tuple[str, int, GatewayRefundStatus]
Step = Attempt | Request | Answer

steps = st.one_of(
    st.tuples(
        st.just("attempt"),
        st.sampled_from(
            [
                GatewayAttemptStatus.SUCCEEDED,
                GatewayAttemptStatus.FAILED,
                GatewayAttemptStatus.PENDING,
                GatewayAttemptStatus.ABANDONED,
                GatewayAttemptStatus.CANCELLED,
            ]
        ),
    ),
    st.tuples(st.just("refund"), st.sampled_from([1, 1_500, 4_000, 6_000, AMOUNT, AMOUNT + 1])),
    st.tuples(
        st.just("answer"),
        st.integers(min_value=0, max_value=4),
        st.sampled_from(list(GatewayRefundStatus)),
    ),
)


@dataclass
class Model:
    captured: int = 0
    refunds: list[Refund] = field(default_factory=list)
    # The first final answer the gateway gave for each refund (a later different one is
    # a contradiction the service records, alerts and, for SUCCEEDED, applies).
    outcome: dict[str, GatewayRefundStatus] = field(default_factory=dict)


def answer(refund: Refund, order_id: str, status: GatewayRefundStatus) -> GatewayRefund:
    return GatewayRefund(
        order_id=order_id,
        refund_id=refund.refund_id,
        gateway_refund_id=f"cfr_{refund.refund_id}",
        gateway_payment_id="cf_model_1",
        amount_minor=refund.amount,
        currency="INR",
        status=status,
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(steps, min_size=1, max_size=12))
async def test_any_sequence_keeps_the_money_invariants(sequence: list[Step]) -> None:
    payments, refunds = PaymentService(), RefundService()
    payment = await create_payment(payment_id=new_id("pay"), status=P.PENDING, amount=AMOUNT)
    model = Model()
    was_captured = False
    for step in sequence:
        if step[0] == "attempt":
            await payments.apply_attempt(
                gateway_attempt(payment.order_id, step[1], AMOUNT, "cf_model_1"), EVIDENCE
            )
            if step[1] == GatewayAttemptStatus.SUCCEEDED:
                model.captured = AMOUNT
        elif step[0] == "refund":
            current = await payments.get(payment.payment_id)
            try:
                refund = await refunds.request(
                    current,
                    amount=step[1],
                    reason="model",
                    user_id=current.user_id,
                    idempotency_key=unique_suffix(),
                )
            except (PaymentNotRefundable, RefundExceedsPayment):
                assert current.status not in CAPTURED or step[1] > current.refundable_amount
            else:
                model.refunds.append(refund)
        elif model.refunds:
            refund = model.refunds[step[1] % len(model.refunds)]
            await refunds.apply_gateway_refund(answer(refund, payment.order_id, step[2]), EVIDENCE)
            if step[2] in FINAL:
                model.outcome.setdefault(refund.refund_id, step[2])
                if step[2] == GatewayRefundStatus.SUCCEEDED:
                    model.outcome[refund.refund_id] = GatewayRefundStatus.SUCCEEDED  # money left
        stored = await payments.get(payment.payment_id)
        succeeded = sum(
            r.amount
            for r in model.refunds
            if model.outcome.get(r.refund_id) == GatewayRefundStatus.SUCCEEDED
        )
        still_open = sum(r.amount for r in model.refunds if r.refund_id not in model.outcome)
        assert stored.captured_amount == model.captured
        assert stored.refunded_amount == succeeded
        assert stored.refund_reserved_amount == still_open
        assert stored.refunded_amount + stored.refund_reserved_amount <= stored.captured_amount
        assert len(stored.settled_refunds) == len(set(stored.settled_refunds))
        was_captured = was_captured or stored.status in CAPTURED
        assert stored.status in CAPTURED or not was_captured  # a success is never downgraded
