"""The merchant console: sign in with a bearer token, then invoices, payments and refunds,
all through the payments-api with that token (its scopes decide what works)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from paycore_web import money
from paycore_web.api import ApiError, ApiUnavailable
from paycore_web.pages import FORM_KEY, REFUND_FINAL, Pages, pages_of
from paycore_web.security import CSRF_FIELD, csrf_valid

TOKEN_KEY = "token"  # noqa: S105 - a session field name, not a secret
# The token lives in the signed session cookie; browsers drop cookies over 4 KB, and base64
# makes the token a third longer, so a longer token would silently sign nobody in.
MAX_TOKEN_CHARS = 2800
INVOICE_STATUSES = (
    "UNPAID",
    "PAID",
    "REFUND_INITIATING",
    "PARTIALLY_REFUNDED",
    "REFUNDED",
    "REFUND_FAILED",
)
PAYMENT_STATUSES = (
    "PENDING",
    "SUCCESS",
    "FAILED",
    "EXPIRED",
    "CANCELLED",
    "PARTIALLY_REFUNDED",
    "REFUNDED",
)
ITEM_ROWS = 5  # item rows the new-invoice form has without script
PAYMENT_ID = re.compile(r"^pay_[0-9A-Z]{26}$")
REFUND_ID = re.compile(r"^rfd_[0-9A-Za-z]{1,40}$")

Handler = Callable[[Request, Pages, str], Awaitable[Response]]


class SignInRequired(Exception):
    """No session, or the API no longer accepts its token."""


def signed_in(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Runs `handler(request, pages, token)` for a signed-in merchant; otherwise (or when the
    token expires meanwhile) back to the sign-in page. Unsafe requests need the CSRF token."""

    async def endpoint(request: Request) -> Response:
        pages = pages_of(request)
        token = request.session.get(TOKEN_KEY)
        if not isinstance(token, str):
            return RedirectResponse("/console/sign-in", 303)
        if request.method == "POST":
            form = await request.form()
            if not csrf_valid(request, form.get(CSRF_FIELD)):
                return pages.render(request, "console/error.html", {"message": _STALE}, 403)
        try:
            return await handler(request, pages, token)
        except ApiError as error:
            if error.status == 401:
                request.session.pop(TOKEN_KEY, None)
                return RedirectResponse("/console/sign-in?expired=1", 303)
            if error.status == 404:
                return pages.render(request, "console/error.html", {"message": error.message}, 404)
            if error.status == 403:
                message = "Your token does not allow this: " + error.message
                return pages.render(request, "console/error.html", {"message": message}, 403)
            raise
        except ApiUnavailable:
            message = "The payments API is not answering. Try again shortly."
            return pages.render(request, "console/error.html", {"message": message}, 503)

    return endpoint


_STALE = "This form has expired. Go back, reload the page and try again."


# --- signing in ------------------------------------------------------------------------------


async def sign_in_page(request: Request) -> Response:
    pages = pages_of(request)
    notice = (
        "Your session has ended; sign in again." if request.query_params.get("expired") else None
    )
    return pages.render(request, "console/sign_in.html", {"error": None, "notice": notice})


async def sign_in(request: Request) -> Response:
    """Checks the token with the API (any read works), then keeps it in the session cookie."""
    pages = pages_of(request)
    form = await request.form()
    if not csrf_valid(request, form.get(CSRF_FIELD)):
        return pages.render(request, "console/error.html", {"message": _STALE}, 403)
    token = str(form.get("token") or "").strip()
    error = None
    try:
        if len(token) > MAX_TOKEN_CHARS:
            raise ApiError(401, "token_too_long", "", {})
        if not token:
            raise ApiError(401, "invalid_token", "", {})
        await pages.api.call("GET", "/invoices", token=token, params={"limit": "1"})
    except ApiError as failure:
        error = {
            "token_too_long": "This token is too long to keep in a browser cookie "
            f"(over {MAX_TOKEN_CHARS} characters); ask for a shorter one.",
            "token_expired": "This token has expired; get a new one.",
            "insufficient_scope": "This token cannot read invoices (it needs the read scope).",
        }.get(failure.code, "This token was not accepted.")
    except ApiUnavailable:
        error = "The payments API is not answering. Try again shortly."
    if error is not None:
        return pages.render(request, "console/sign_in.html", {"error": error, "notice": None}, 401)
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in merchant
    request.session[TOKEN_KEY] = token
    return RedirectResponse("/console/invoices", 303)


async def sign_out(request: Request) -> Response:
    pages = pages_of(request)
    form = await request.form()
    if not csrf_valid(request, form.get(CSRF_FIELD)):
        return pages.render(request, "console/error.html", {"message": _STALE}, 403)
    request.session.clear()
    return RedirectResponse("/console/sign-in", 303)


async def console_home(request: Request) -> Response:
    return RedirectResponse("/console/invoices", 303)


# --- lists of invoices and payments ----------------------------------------------------------


def list_page(
    path: str, filter_names: tuple[str, ...], template: str, statuses: tuple[str, ...]
) -> Callable[[Request], Awaitable[Response]]:
    """A console page listing the API's `GET path`, 20 a page, filtered by the query's
    `filter_names`; a filter the API refuses (400) is shown on the page."""

    @signed_in
    async def page(request: Request, pages: Pages, token: str) -> Response:
        query = request.query_params
        filters = {name: query.get(name, "").strip() for name in filter_names}
        params = {name: value for name, value in filters.items() if value}
        params["limit"] = "20"
        error = None
        found: dict[str, Any] = {"items": [], "next_cursor": None}
        try:
            found = await pages.api.call("GET", path, token=token, params=params)
        except ApiError as failure:
            if failure.status != 400:
                raise
            error = failure.message
        next_query = (
            urlencode({**{k: v for k, v in filters.items() if v}, "cursor": found["next_cursor"]})
            if found["next_cursor"]
            else None
        )
        return pages.render(
            request,
            template,
            {
                "page": found,
                "filters": filters,
                "statuses": statuses,
                "error": error,
                "next_query": next_query,
            },
        )

    return page


invoices = list_page(
    "/invoices",
    ("client_email", "status", "cursor"),
    "console/invoices.html",
    INVOICE_STATUSES,
)
payments = list_page(
    "/payments/history",
    ("status", "from", "to", "cursor"),
    "console/payments.html",
    PAYMENT_STATUSES,
)


# --- invoices --------------------------------------------------------------------------------


def _blank_invoice() -> dict[str, Any]:
    today = date.today()
    return {
        "invoice_number": "INV-" + uuid.uuid4().hex[:8].upper(),
        "issue_date": today.isoformat(),
        "due_date": (today + timedelta(days=15)).isoformat(),
        "tax_rate": "18",
        "client_name": "",
        "client_email": "",
        "client_phone": "",
        "notes": "",
        "items": [{"description": "", "quantity": "1", "unit_price": ""}] * ITEM_ROWS,
    }


@signed_in
async def new_invoice(request: Request, pages: Pages, token: str) -> Response:
    return pages.render(
        request,
        "console/invoice_new.html",
        {"form": _blank_invoice(), "errors": [], "form_key": uuid.uuid4().hex},
    )


def _invoice_body(form: FormData) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The API body from the form (rupees → paise), the form's values to show again, and
    what is wrong with them."""
    errors: list[str] = []
    values: dict[str, Any] = {
        name: str(form.get(name) or "").strip()
        for name in (
            "invoice_number",
            "issue_date",
            "due_date",
            "tax_rate",
            "client_name",
            "client_email",
            "client_phone",
            "notes",
        )
    }
    descriptions = form.getlist("item_description")
    quantities = form.getlist("item_quantity")
    prices = form.getlist("item_unit_price")
    rows = [
        {"description": str(d).strip(), "quantity": str(q).strip(), "unit_price": str(p).strip()}
        for d, q, p in zip(descriptions, quantities, prices, strict=False)
    ]
    values["items"] = rows
    items = []
    for number, row in enumerate(rows, start=1):
        if not row["description"] and not row["unit_price"]:
            continue  # an empty row
        try:
            quantity = int(row["quantity"])
            if quantity < 1:
                raise ValueError
        except ValueError:
            errors.append(f"Item {number}: the quantity must be a whole number of 1 or more.")
            continue
        try:
            unit_price = money.to_minor(row["unit_price"])
        except ValueError:
            errors.append(f"Item {number}: the unit price must be an amount like 1500.00.")
            continue
        if not row["description"]:
            errors.append(f"Item {number}: add a description.")
            continue
        items.append(
            {"description": row["description"], "quantity": quantity, "unit_price": unit_price}
        )
    if not items:
        errors.append("Add at least one item.")
    client: dict[str, Any] = {"name": values["client_name"], "email": values["client_email"]}
    if values["client_phone"]:
        client["phone"] = values["client_phone"]
    body: dict[str, Any] = {
        "invoice_number": values["invoice_number"],
        "currency": "INR",
        "issue_date": values["issue_date"],
        "due_date": values["due_date"],
        "client": client,
        "items": items,
        "tax_rate": values["tax_rate"] or "0",
    }
    if values["notes"]:
        body["notes"] = values["notes"]
    return body, values, errors


# Field paths of the API's validation errors, as the form names them.
FIELD_LABELS = {
    "invoice_number": "Invoice number",
    "issue_date": "Issue date",
    "due_date": "Due date",
    "tax_rate": "Tax rate",
    "client.name": "Client name",
    "client.email": "Client email",
    "client.phone": "Client phone",
    "notes": "Notes",
}


def _api_errors(error: ApiError) -> list[str]:
    listed = error.details.get("errors")
    if error.code != "validation_error" or not isinstance(listed, list):
        return [error.message]
    messages = []
    for item in listed:
        field = str(item.get("field", ""))
        label = FIELD_LABELS.get(field) or field.replace("_", " ").replace(".", " ").capitalize()
        messages.append(f"{label}: {item.get('message', 'invalid')}")
    return messages


@signed_in
async def create_invoice(request: Request, pages: Pages, token: str) -> Response:
    form = await request.form()
    key = str(form.get("idempotency_key") or "")
    body, values, errors = _invoice_body(form)
    if not FORM_KEY.fullmatch(key):
        errors.append(_STALE)
    if not errors:
        try:
            invoice = await pages.api.call(
                "POST", "/invoices", token=token, json=body, idempotency_key=key
            )
        except ApiError as failure:
            if failure.status in (401, 403, 404):
                raise
            errors = _api_errors(failure)
            # The API has answered this key for good: the corrected form is a new request.
            key = uuid.uuid4().hex
        else:
            number = quote(invoice["invoice_number"], safe="")
            return RedirectResponse(f"/console/invoices/{number}?created=1", 303)
    values["items"] = values["items"] + [
        {"description": "", "quantity": "1", "unit_price": ""}
    ] * max(0, ITEM_ROWS - len(values["items"]))
    return pages.render(
        request,
        "console/invoice_new.html",
        {
            "form": values,
            "errors": errors,
            "form_key": key if FORM_KEY.fullmatch(key) else uuid.uuid4().hex,
        },
        400,
    )


@signed_in
async def invoice_detail(request: Request, pages: Pages, token: str) -> Response:
    number = quote(str(request.path_params["number"]), safe="")
    invoice = await pages.api.call("GET", f"/invoices/{number}", token=token)
    return pages.render(
        request,
        "console/invoice.html",
        {"invoice": invoice, "created": request.query_params.get("created") == "1"},
    )


# --- payments and refunds --------------------------------------------------------------------


async def _payment_page(
    request: Request,
    pages: Pages,
    token: str,
    payment_id: str,
    *,
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    payment = await pages.api.call("GET", f"/payments/{payment_id}", token=token)
    timeline = await pages.api.call("GET", f"/payments/{payment_id}/timeline", token=token)
    refunds = await pages.api.call("GET", f"/refunds/payment/{payment_id}", token=token)
    return pages.render(
        request,
        "console/payment.html",
        {
            "payment": payment,
            "timeline": timeline,
            "refunds": refunds["items"],
            "refund_final": REFUND_FINAL,
            "errors": errors or [],
            "form_key": uuid.uuid4().hex,
        },
        status,
    )


@signed_in
async def payment_detail(request: Request, pages: Pages, token: str) -> Response:
    payment_id = str(request.path_params["payment_id"])
    if not PAYMENT_ID.fullmatch(payment_id):
        return pages.render(request, "console/error.html", {"message": "No such payment."}, 404)
    return await _payment_page(request, pages, token, payment_id)


@signed_in
async def refund(request: Request, pages: Pages, token: str) -> Response:
    """A full refund (amount left empty) or a partial one, then back to the payment, where the
    refund's status is followed live."""
    payment_id = str(request.path_params["payment_id"])
    if not PAYMENT_ID.fullmatch(payment_id):
        return pages.render(request, "console/error.html", {"message": "No such payment."}, 404)
    form = await request.form()
    key = str(form.get("idempotency_key") or "")
    raw_amount = str(form.get("amount") or "").strip()
    reason = str(form.get("reason") or "").strip()
    body: dict[str, Any] = {"payment_id": payment_id}
    errors = []
    if raw_amount:
        try:
            body["amount"] = money.to_minor(raw_amount)
            if body["amount"] <= 0:
                raise ValueError
        except ValueError:
            errors.append("The amount must be more than zero, like 250.00.")
    if reason:
        body["reason"] = reason[:200]
    if not FORM_KEY.fullmatch(key):
        errors.append(_STALE)
    if not errors:
        try:
            await pages.api.call(
                "POST", "/refunds/initiate", token=token, json=body, idempotency_key=key
            )
        except ApiUnavailable:
            return _refund_retry(request, pages, payment_id, form, UNCONFIRMED)
        except ApiError as failure:
            if failure.status in (401, 404):
                raise
            if failure.status >= 500 or failure.status in (409, 429):
                # Not a final answer (busy, in flight, limited, or the gateway away): the same
                # request again, same key, so it can never refund twice.
                return _refund_retry(request, pages, payment_id, form, failure.message)
            if failure.code == "refund_exceeds_refundable":
                left = money.show(int(failure.details.get("refundable") or 0))
                errors.append(f"That is more than is left to refund ({left}).")
            else:
                errors.append(failure.message)
        else:
            return RedirectResponse(f"/console/payments/{payment_id}#refunds", 303)
    return await _payment_page(request, pages, token, payment_id, errors=errors, status=400)


UNCONFIRMED = "The payments API did not confirm the refund."


def _refund_retry(
    request: Request, pages: Pages, payment_id: str, form: FormData, message: str
) -> Response:
    """The refund form again with the same idempotency key: submitting it repeats the same
    request (the API answers it once), so an unknown outcome is retried without a second
    refund. Needs nothing from the API, which may be away."""
    return pages.render(
        request,
        "console/refund_retry.html",
        {
            "payment_id": payment_id,
            "message": message,
            "amount": str(form.get("amount") or ""),
            "reason": str(form.get("reason") or ""),
            "form_key": str(form.get("idempotency_key") or ""),
        },
        503,
    )


@signed_in
async def refund_status(request: Request, pages: Pages, token: str) -> Response:
    """The console's live check of one refund: `{status, final}`."""
    refund_id = str(request.path_params["refund_id"])
    if not REFUND_ID.fullmatch(refund_id):
        return JSONResponse({"error": "not_found"}, status_code=404)
    found = await pages.api.call("GET", f"/refunds/{refund_id}", token=token)
    return JSONResponse({"status": found["status"], "final": found["status"] in REFUND_FINAL})


@signed_in
async def operations(request: Request, pages: Pages, token: str) -> Response:
    """Admins: the latest reconciliation runs and their mismatches, and the dead-lettered
    webhooks."""
    try:
        data = await pages.api.call(
            "GET", "/admin/reconciliation", token=token, params={"limit": "10"}
        )
        dead = await pages.api.call("GET", "/admin/dead-letters", token=token)
    except ApiError as failure:
        if failure.code != "insufficient_scope":
            raise
        return pages.render(request, "console/operations.html", {"data": None}, 403)
    return pages.render(
        request, "console/operations.html", {"data": data, "dead_letters": dead["items"]}
    )


def routes() -> list[Route]:
    return [
        Route("/console", console_home, methods=["GET"]),
        Route("/console/", console_home, methods=["GET"]),
        Route("/console/sign-in", sign_in_page, methods=["GET"]),
        Route("/console/sign-in", sign_in, methods=["POST"]),
        Route("/console/sign-out", sign_out, methods=["POST"]),
        Route("/console/invoices", invoices, methods=["GET"]),
        Route("/console/invoices", create_invoice, methods=["POST"]),
        Route("/console/invoices/new", new_invoice, methods=["GET"]),
        Route("/console/invoices/{number}", invoice_detail, methods=["GET"]),
        Route("/console/payments", payments, methods=["GET"]),
        Route("/console/payments/{payment_id}", payment_detail, methods=["GET"]),
        Route("/console/payments/{payment_id}/refunds", refund, methods=["POST"]),
        Route("/console/refunds/{refund_id}/status", refund_status, methods=["GET"]),
        Route("/console/operations", operations, methods=["GET"]),
    ]
