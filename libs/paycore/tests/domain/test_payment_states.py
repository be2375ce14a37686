from paycore.payments.models import PaymentStatus as P
from paycore.payments.states import PAYMENT_STATES
from paycore.refunds.models import RefundStatus as R
from paycore.refunds.states import REFUND_STATES


def test_success_is_never_undone_by_a_failure() -> None:
    for weaker in (P.FAILED, P.EXPIRED, P.CANCELLED, P.PENDING, P.PROCESSING):
        assert not PAYMENT_STATES.allows(P.SUCCESS, weaker)


def test_a_failed_payment_can_still_succeed() -> None:
    assert PAYMENT_STATES.allows(P.FAILED, P.SUCCESS)


def test_refunded_is_final() -> None:
    assert PAYMENT_STATES.is_final(P.REFUNDED)


def test_every_state_is_in_the_table() -> None:
    for status in P:
        PAYMENT_STATES.targets(status)  # no KeyError
    assert {s for s in P if PAYMENT_STATES.is_final(s)} == {P.REFUNDED}


def test_refund_lifecycle() -> None:
    assert REFUND_STATES.allows(R.INITIATED, R.PROCESSING)
    assert REFUND_STATES.allows(R.PROCESSING, R.SUCCESS)
    assert REFUND_STATES.allows(R.SUCCESS, R.REVERSED)
    assert not REFUND_STATES.allows(R.SUCCESS, R.FAILED)
    assert not REFUND_STATES.allows(R.SUCCESS, R.CANCELLED)


def test_a_gateway_success_overrides_a_refund_we_held_failed() -> None:
    # Money left whatever we believed: the contradiction is applied (and alerted).
    assert REFUND_STATES.allows(R.FAILED, R.SUCCESS)
    assert REFUND_STATES.allows(R.CANCELLED, R.SUCCESS)


def test_a_success_for_a_payment_still_created_is_applied() -> None:
    # Our create's answer was lost, the customer paid: money received.
    assert PAYMENT_STATES.allows(P.CREATED, P.SUCCESS)
