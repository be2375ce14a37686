"""Money invariants checked on the stored payments (reconciler, every few minutes), and the
number of open disputes.

- refunded_exceeds_captured: refunded + reserved is more than was captured, or the refundable
  amount went negative. Never allowed; a bug if it happens.
- reservation_stuck: a reservation whose refund is final or missing, held longer than
  `stuck_after` (settling or releasing it failed; the janitor's orphan release did not help).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from prometheus_client import Gauge

from paycore.disputes.service import count_open_disputes
from paycore.payments.repository import PaymentRepository
from paycore.refunds.repository import RefundRepository
from paycore.refunds.states import FINAL

VIOLATIONS: Final = Gauge(
    "paycore_money_invariant_violations",
    "Payments breaking a money invariant at the last check, by kind "
    "(refunded_exceeds_captured, reservation_stuck).",
    ["kind"],
)
DISPUTES_OPEN: Final = Gauge(
    "paycore_disputes_open", "Disputes and chargebacks still open (not yet won or lost)."
)


async def check_money_invariants(stuck_after: timedelta) -> dict[str, list[str]]:
    """The payment ids breaking each invariant; also sets the gauge."""
    payments, refunds = PaymentRepository(), RefundRepository()
    found: dict[str, list[str]] = {
        "refunded_exceeds_captured": await payments.ids_refunded_beyond_captured(),
        "reservation_stuck": [],
    }
    cutoff = datetime.now(UTC) - stuck_after
    for payment in await payments.list_holding_reservations(cutoff):
        for refund_id in payment.refund_reservations:
            refund = await refunds.get(refund_id)
            if refund is None or refund.status in FINAL:
                found["reservation_stuck"].append(payment.payment_id)
                break
    for kind, payment_ids in found.items():
        VIOLATIONS.labels(kind).set(len(payment_ids))
    DISPUTES_OPEN.set(await count_open_disputes())
    return found
