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

from paycore.disputes.models import Dispute
from paycore.gateway.schemas import GatewayDisputeOutcome
from paycore.payments.models import Payment
from paycore.refunds.models import Refund
from paycore.refunds.states import FINAL

VIOLATIONS: Final = Gauge(
    "paycore_money_invariant_violations",
    "Payments breaking a money invariant at the last check, by kind "
    "(refunded_exceeds_captured, reservation_stuck).",
    ["kind"],
)
KINDS: Final = ("refunded_exceeds_captured", "reservation_stuck")
DISPUTES_OPEN: Final = Gauge(
    "paycore_disputes_open", "Disputes and chargebacks still open (not yet won or lost)."
)


async def check_money_invariants(stuck_after: timedelta) -> dict[str, list[str]]:
    """The payment ids breaking each invariant; also sets the gauge."""
    payments = Payment.get_pymongo_collection()
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    fields = {
        "captured_amount": 1,
        "refunded_amount": 1,
        "refund_reserved_amount": 1,
        "refundable_amount": 1,
    }
    touched = {"$or": [{"refunded_amount": {"$gt": 0}}, {"refund_reserved_amount": {"$gt": 0}}]}
    async for raw in payments.find(touched, fields):
        spent = raw.get("refunded_amount", 0) + raw.get("refund_reserved_amount", 0)
        if spent > raw.get("captured_amount", 0) or raw.get("refundable_amount", 0) < 0:
            found["refunded_exceeds_captured"].append(raw["_id"])
    cutoff = datetime.now(UTC) - stuck_after
    held = {"refund_reservations.0": {"$exists": True}, "updated_at": {"$lt": cutoff}}
    async for raw in payments.find(held, {"refund_reservations": 1}):
        for refund_id in raw.get("refund_reservations") or []:
            refund = await Refund.get_pymongo_collection().find_one(
                {"_id": refund_id}, {"status": 1}
            )
            if refund is None or refund["status"] in {status.value for status in FINAL}:
                found["reservation_stuck"].append(raw["_id"])
                break
    for kind, payment_ids in found.items():
        VIOLATIONS.labels(kind).set(len(payment_ids))
    open_outcomes = [GatewayDisputeOutcome.OPEN.value, GatewayDisputeOutcome.UNKNOWN.value]
    DISPUTES_OPEN.set(
        await Dispute.get_pymongo_collection().count_documents({"outcome": {"$in": open_outcomes}})
    )
    return found
