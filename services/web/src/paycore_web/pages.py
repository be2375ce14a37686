"""What every page handler shares: the API client, the templates, and rendering."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from paycore_web import money
from paycore_web.api import PaymentsApi
from paycore_web.security import csrf_token
from paycore_web.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Idempotency keys our forms carry (uuid4 hex); anything else is refused before the API.
FORM_KEY = re.compile(r"^[0-9a-f]{32}$")

# A payment's status as the customer and the merchant read it.
PAID = frozenset({"SUCCESS", "PARTIALLY_REFUNDED", "REFUNDED"})
UNSETTLED = frozenset({"CREATED", "PENDING", "AUTHORIZING", "PROCESSING"})
UNPAID_FINAL = frozenset({"FAILED", "EXPIRED", "CANCELLED"})
REFUND_FINAL = frozenset({"SUCCESS", "FAILED", "CANCELLED"})


@dataclass
class Pages:
    settings: Settings
    api: PaymentsApi
    templates: Jinja2Templates

    def render(
        self, request: Request, template: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        if template.startswith("console/"):
            # Only console pages touch the session: a customer page never rewrites a cookie.
            context = {"csrf_token": csrf_token(request), **context}
        return self.templates.TemplateResponse(request, template, context, status_code=status)


def templates() -> Jinja2Templates:
    env = Jinja2Templates(directory=str(TEMPLATES))
    env.env.filters["money"] = money.show
    env.env.filters["money_input"] = money.input_value
    env.env.filters["words"] = lambda code: (code or "").replace("_", " ").lower()
    env.env.filters["percent"] = lambda bps: f"{int(bps) / 100:g}%"
    return env


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def payment_state(payment: dict[str, Any] | None) -> str:
    """`none`, `success`, `pending` or `failed`: which result a customer sees."""
    if payment is None:
        return "none"
    status = payment["status"]
    if status in PAID:
        return "success"
    if status in UNSETTLED:
        # A failed attempt leaves the order payable (the payment stays open): the customer
        # sees the failure and retries on the same order.
        return "failed" if payment.get("last_attempt_failed") else "pending"
    return "failed"
