"""The reconciler's money invariants and open-dispute gauge, read through each collection's own
repository."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from paycore.disputes.models import Dispute
from paycore.gateway.schemas import GatewayDisputeOutcome
from paycore.payments.models import Payment
from paycore.reconciliation.invariants import check_money_invariants
from paycore.refunds.models import Refund
from paycore.refunds.models import RefundStatus as R
from paycore.testing import create_payment, isolated_database, unique_suffix
from prometheus_client import REGISTRY

LONG_AGO = datetime.now(UTC) - timedelta(hours=2)


@pytest.fixture(autouse=True)
async def database() -> AsyncIterator[None]:
    async with isolated_database([Payment, Refund, Dispute]):
        yield


async def holding(refund_id: str, *, updated_at: datetime = LONG_AGO) -> Payment:
    return await create_payment(
        refund_reservations=[refund_id], refund_reserved_amount=1_000, updated_at=updated_at
    )


async def refund(payment: Payment, status: R) -> None:
    await Refund(
        refund_id=payment.refund_reservations[0],
        payment_id=payment.payment_id,
        order_id=payment.order_id,
        user_id=payment.user_id,
        idempotency_key=unique_suffix(),
        amount=1_000,
        currency="INR",
        status=status,
    ).insert()


async def dispute(outcome: GatewayDisputeOutcome) -> None:
    await Dispute(
        dispute_id=unique_suffix(),
        payment_id="pay_x",
        order_id="ord_x",
        status="DISPUTE_CREATED",
        outcome=outcome,
        amount=500,
        currency="INR",
    ).insert()


async def test_refunds_beyond_the_capture_are_found() -> None:
    over = await create_payment(refunded_amount=8_000, refund_reserved_amount=3_000)
    negative = await create_payment(refunded_amount=100, refundable_amount=-1)
    await create_payment(refunded_amount=5_000, refundable_amount=5_000)
    found = await check_money_invariants(timedelta(minutes=30))
    assert sorted(found["refunded_exceeds_captured"]) == sorted(
        [over.payment_id, negative.payment_id]
    )


async def test_an_old_reservation_whose_refund_is_final_or_missing_is_stuck() -> None:
    final = await holding("rfd_final")
    await refund(final, R.SUCCESS)
    missing = await holding("rfd_missing")
    running = await holding("rfd_running")
    await refund(running, R.PROCESSING)
    await holding("rfd_recent", updated_at=datetime.now(UTC))
    found = await check_money_invariants(timedelta(minutes=30))
    assert sorted(found["reservation_stuck"]) == sorted([final.payment_id, missing.payment_id])


async def test_open_and_unknown_disputes_are_counted_open() -> None:
    for outcome in (GatewayDisputeOutcome.OPEN, GatewayDisputeOutcome.UNKNOWN):
        await dispute(outcome)
    await dispute(GatewayDisputeOutcome.WON)
    await check_money_invariants(timedelta(minutes=30))
    assert REGISTRY.get_sample_value("paycore_disputes_open") == 2
