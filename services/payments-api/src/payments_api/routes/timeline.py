"""A payment's timeline for the merchant console: its state history (with evidence) and the
gateway's payment attempts on its order."""

from __future__ import annotations

from paycore.auth.tokens import Scope
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import get_api, respond
from payments_api.responses import TimelineOut
from payments_api.routes.payments import owned_payment


async def payment_timeline(request: Request) -> Response:
    """`{history, attempts}`: transitions oldest first (ignored ones marked), and every attempt
    Cashfree reported for the order, oldest first."""
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    found = await api.payments.find(request.path_params["payment_id"])
    payment = await owned_payment(api, principal, found)
    attempts = await api.payments.attempts_of(payment.payment_id)
    return respond(TimelineOut.of(payment, attempts))
