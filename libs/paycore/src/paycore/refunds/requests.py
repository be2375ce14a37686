"""A caller asks for a refund: the use case behind `POST /refunds`.

Idempotent per (user, Idempotency-Key): a repeat gets the refund the first request made, and a
repeat with another body raises `IdempotencyKeyReused` (422), also when two such requests race
(the refund's unique key decides). A new refund reserves its amount on the payment (whose
write brings the invoice in step) and is audited as `refund.initiate` by the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from paycore.audit.models import Actor
from paycore.audit.trail import AuditTrail
from paycore.idempotency.store import check_same_request
from paycore.payments.models import Payment
from paycore.refunds.models import Refund
from paycore.refunds.service import RefundService


@dataclass(frozen=True)
class RefundAsk:
    payment_id: str
    amount: int | None  # minor units; None: everything still refundable
    reason: str | None = None


@dataclass(frozen=True)
class Requested:
    refund: Refund
    replayed: bool  # an earlier request with this key made it


# The caller's payment as the caller may act on it: `PaymentNotFound` if not theirs, and
# re-checked with the gateway first when out of date (the API's verify limits apply).
PaymentOf = Callable[[str], Awaitable[Payment]]


class RefundRequests:
    def __init__(self, refunds: RefundService, audit: AuditTrail | None = None) -> None:
        self.refunds = refunds
        self.audit = audit or AuditTrail()

    async def initiate(
        self,
        actor: Actor,
        user_id: str,
        key: str,
        request_fingerprint: str,
        ask: RefundAsk,
        payment_of: PaymentOf,
    ) -> Requested:
        """Reserves the amount and records the refund (INITIATED); the refund worker executes
        it. Raises `PaymentNotRefundable`, `RefundExceedsPayment`, `IdempotencyKeyReused` and
        whatever `payment_of` raises."""
        earlier = await self.refunds.repository.get_by_idempotency_key(user_id, key)
        if earlier is not None:
            check_same_request(earlier.request_fingerprint, request_fingerprint)
            return Requested(earlier, replayed=True)
        payment = await payment_of(ask.payment_id)
        refund = await self.refunds.request(
            payment,
            amount=ask.amount,
            reason=ask.reason,
            user_id=user_id,
            idempotency_key=key,
            request_fingerprint=request_fingerprint,
        )
        if refund.request_fingerprint != request_fingerprint:
            # A concurrent same-key request won the insert; it may have had another body.
            check_same_request(refund.request_fingerprint, request_fingerprint)
            return Requested(refund, replayed=True)
        after = await self.refunds.payments.get(payment.payment_id)
        await self.audit.append(
            actor,
            "refund.initiate",
            "refund",
            refund.refund_id,
            before={
                "payment_id": payment.payment_id,
                "refundable_amount": payment.refundable_amount,
                "refund_reserved_amount": payment.refund_reserved_amount,
            },
            after={
                "status": refund.status.value,
                "amount": refund.amount,
                "currency": refund.currency,
                "refundable_amount": after.refundable_amount,
                "refund_reserved_amount": after.refund_reserved_amount,
            },
        )
        return Requested(refund, replayed=False)
