from __future__ import annotations

from paycore.auth.tokens import Scope
from paycore.payments.models import Payment
from paycore.refunds.errors import RefundNotFound
from paycore.refunds.requests import RefundAsk
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import Outcome, get_api, read_body, respond
from payments_api.responses import RefundList, RefundOut
from payments_api.routes.payments import owned_payment, up_to_date
from payments_api.schemas import InitiateRefundIn


async def initiate_refund(request: Request) -> Response:
    """Reserves the amount on the payment and records the refund (INITIATED); the refund
    worker executes it. 202: accepted, not yet done."""
    api = get_api(request)
    principal = await api.guard(request, Scope.REFUND)
    body, parsed = await read_body(request, InitiateRefundIn)
    ask = RefundAsk(payment_id=body.payment_id, amount=body.amount, reason=body.reason)

    async def payment_of(payment_id: str) -> Payment:
        found = await owned_payment(api, principal, await api.payments.find(payment_id))
        # Re-checked first when out of date: a success whose webhook was lost is refundable.
        return await up_to_date(api, request, principal, found)

    async def run(key: str, request_fingerprint: str) -> Outcome:
        actor = api.actor(request, principal)
        requested = await api.refund_requests.initiate(
            actor, principal.user_id, key, request_fingerprint, ask, payment_of
        )
        return Outcome(202, RefundOut.model_validate(requested.refund), replayed=requested.replayed)

    return await api.idempotent(request, principal, "refund", parsed, run)


async def get_refund(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    refund = await api.refunds.find(request.path_params["refund_id"])
    if refund is None or (refund.user_id != principal.user_id and not principal.is_admin):
        raise RefundNotFound()
    return respond(RefundOut.model_validate(refund))


async def list_payment_refunds(request: Request) -> Response:
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    found = await api.payments.find(request.path_params["payment_id"])
    payment = await owned_payment(api, principal, found)
    refunds = await api.refunds.list_for_payment(payment.payment_id)
    return respond(RefundList(items=[RefundOut.model_validate(refund) for refund in refunds]))
