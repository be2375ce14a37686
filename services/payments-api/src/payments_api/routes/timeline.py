"""A payment's timeline for the merchant console: its state history (with evidence) and the
gateway's payment attempts on its order."""

from __future__ import annotations

from typing import Any

from paycore.auth.tokens import Scope
from paycore.payments.models import Transaction
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import get_api, respond
from payments_api.routes.payments import owned_payment


async def payment_timeline(request: Request) -> Response:
    """`{history, attempts}`: transitions oldest first (ignored ones marked), and every attempt
    Cashfree reported for the order, oldest first."""
    api = get_api(request)
    principal = await api.guard(request, Scope.READ)
    found = await api.payments.find(request.path_params["payment_id"])
    payment = await owned_payment(api, principal, found)
    attempts = await api.payments.attempts_of(payment.payment_id)
    return respond(
        {
            "history": [
                {
                    "from_status": record.from_status,
                    "to_status": record.to_status,
                    "at": record.at.isoformat(),
                    "source": record.evidence.source,
                    "reference": record.evidence.reference,
                    "note": record.note,
                    "ignored": record.ignored,
                }
                for record in payment.history
            ],
            "attempts": [_attempt(attempt) for attempt in attempts],
        }
    )


def _attempt(attempt: Transaction) -> dict[str, Any]:
    return {
        "cf_payment_id": attempt.cf_payment_id,
        "status": attempt.status,
        "amount": attempt.amount,
        "currency": attempt.currency,
        "payment_method": attempt.payment_method,
        "failure_reason": attempt.failure_reason,
        "bank_reference": attempt.bank_reference,
        "created_at": attempt.created_at.isoformat(),
    }
