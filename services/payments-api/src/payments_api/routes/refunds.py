from __future__ import annotations

from paycore.auth.tokens import Scope
from paycore.idempotency.store import IdempotencyKeyReused
from paycore.refunds.errors import RefundNotFound
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import Outcome, get_api, read_body, respond
from payments_api.routes.payments import owned_payment, up_to_date
from payments_api.schemas import InitiateRefundIn, refund_out


async def initiate_refund(request: Request) -> Response:
    """Reserves the amount on the payment and records the refund (INITIATED); the refund
    worker executes it. 202: accepted, not yet done."""
    api = get_api(request)
    principal = await api.guard(request, Scope.REFUND)
    body, parsed = await read_body(request, InitiateRefundIn)

    async def run(key: str, request_fingerprint: str) -> Outcome:
        earlier = await api.refunds.repository.get_by_idempotency_key(principal.user_id, key)
        if earlier is not None:
            if earlier.request_fingerprint not in (None, request_fingerprint):
                raise IdempotencyKeyReused()
            return Outcome(202, refund_out(earlier), replayed=True)
        found = await api.payments.repository.get(body.payment_id)
        # Re-checked first when out of date: a success whose webhook was lost is refundable.
        payment = await up_to_date(
            api, request, principal, await owned_payment(api, principal, found)
        )
        refund = await api.refunds.request(
            payment,
            amount=body.amount,
            reason=body.reason,
            user_id=principal.user_id,
            idempotency_key=key,
            request_fingerprint=request_fingerprint,
        )
        if refund.request_fingerprint != request_fingerprint:
            # A concurrent same-key request won the insert; it may have had another body.
            if refund.request_fingerprint is not None:
                raise IdempotencyKeyReused()
            return Outcome(202, refund_out(refund), replayed=True)
        after = await api.payments.get(payment.payment_id)
        await api.audit.append(
            api.actor(request, principal),
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
        return Outcome(202, refund_out(refund))

    return await api.idempotent(request, principal, "refund", parsed, run)


async def get_refund(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    refund = await api.refunds.repository.get(request.path_params["refund_id"])
    if refund is None or (refund.user_id != principal.user_id and not principal.is_admin):
        raise RefundNotFound()
    return respond(refund_out(refund))


async def list_payment_refunds(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    found = await api.payments.repository.get(request.path_params["payment_id"])
    payment = await owned_payment(api, principal, found)
    refunds = await api.refunds.repository.list_for_payment(payment.payment_id)
    return respond({"items": [refund_out(refund) for refund in refunds]})
