"""The customer's pages (no login; the pay link's token in the path is the credential):
the invoice with Pay Now, the return page after checkout, a receipt once paid."""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from paycore_web.api import ApiError, ApiUnavailable
from paycore_web.pages import FORM_KEY, Pages, pages_of, payment_state
from paycore_web.security import origin_of
from paycore_web.settings import CheckoutMode

# What a pay-link token can look like (itsdangerous URL-safe); anything else is not one.
TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,400}$")
PHONE = re.compile(r"^(\d{10}|\+\d{8,15})$")
# Cashfree's payment_session_id (`session_…`): URL-safe characters only.
SESSION = re.compile(r"^session_[A-Za-z0-9_-]{1,500}$")
LINK_ERRORS = {"pay_link_invalid": 404, "invoice_not_found": 404, "pay_link_expired": 410}
# What the customer is told when the API refuses Pay Now (never its internal details).
PAY_REFUSALS = {
    "customer_phone_required": "Enter the phone number to pay with.",
    "validation_error": "Check the phone number: 10 digits, or + and the country code.",
    "fraud_blocked": "We could not accept this payment. Please contact the merchant.",
    "invoice_payment_in_progress": "A payment for this invoice is starting. Try again.",
    "idempotency_request_in_flight": "Your payment is starting. Try again in a moment.",
    "idempotency_key_reused": "Please try again.",
}


def _token(request: Request) -> str:
    return str(request.path_params["token"])


async def _view(pages: Pages, token: str, *, verify: bool = False) -> dict[str, Any]:
    if not TOKEN.fullmatch(token):
        raise ApiError(404, "pay_link_invalid", "not a pay link", {})
    if verify:
        data: dict[str, Any] = await pages.api.call("POST", f"/pay-links/{token}/verify")
    else:
        data = await pages.api.call("GET", f"/pay-links/{token}")
    return data


def _failure(pages: Pages, request: Request, error: Exception) -> Response:
    """A link that is bad or expired, or the API away: a page that says so."""
    if isinstance(error, ApiError) and error.code in LINK_ERRORS:
        return pages.render(
            request,
            "customer/link_error.html",
            {"expired": error.code == "pay_link_expired"},
            LINK_ERRORS[error.code],
        )
    return pages.render(request, "customer/unavailable.html", {}, 503)


def _invoice_page(
    pages: Pages,
    request: Request,
    view: dict[str, Any],
    error: str | None = None,
    status: int = 200,
) -> Response:
    return pages.render(
        request,
        "customer/invoice.html",
        {
            "token": _token(request),
            "invoice": view["invoice"],
            "payment": view["payment"],
            "state": payment_state(view["payment"]),
            "form_key": uuid.uuid4().hex,
            "error": error,
        },
        status,
    )


async def invoice_page(request: Request) -> Response:
    pages = pages_of(request)
    try:
        view = await _view(pages, _token(request))
    except (ApiError, ApiUnavailable) as error:
        return _failure(pages, request, error)
    return _invoice_page(pages, request, view)


async def pay(request: Request) -> Response:
    """Pay Now (and Try again): opens the invoice's payment, or reuses the one still open,
    then sends the browser to Cashfree's checkout."""
    pages = pages_of(request)
    token = _token(request)
    form = await request.form()
    key = str(form.get("idempotency_key") or "")
    phone = str(form.get("customer_phone") or "").strip()
    body: dict[str, Any] = {
        "return_url": f"{pages.settings.web_public_url}/pay/{token}/return?order_id={{order_id}}"
    }
    if phone:
        body["customer_phone"] = phone
    try:
        if not TOKEN.fullmatch(token):
            raise ApiError(404, "pay_link_invalid", "not a pay link", {})
        if not FORM_KEY.fullmatch(key) or (phone and not PHONE.fullmatch(phone)):
            raise ApiError(400, "validation_error", "bad form", {})
        payment = await pages.api.call(
            "POST", f"/pay-links/{token}/pay", json=body, idempotency_key=key
        )
    except ApiError as error:
        if error.code == "invoice_already_paid":
            return RedirectResponse(f"/pay/{token}", 303)
        if error.code in PAY_REFUSALS:
            try:
                view = await _view(pages, token)
            except (ApiError, ApiUnavailable) as failure:
                return _failure(pages, request, failure)
            return _invoice_page(pages, request, view, PAY_REFUSALS[error.code], 400)
        return _failure(pages, request, error)
    except ApiUnavailable as error:
        return _failure(pages, request, error)
    return _checkout(pages, request, payment)


def _checkout(pages: Pages, request: Request, payment: dict[str, Any]) -> Response:
    settings = pages.settings
    if settings.checkout_mode == CheckoutMode.CASHFREE_JS:
        return pages.render(
            request,
            "customer/checkout.html",
            {
                "session_id": payment["payment_session_id"],
                "sdk_url": settings.cashfree_js_url,
                "sdk_mode": settings.cashfree_js_mode,
            },
        )
    url = str(payment.get("checkout_url") or "")
    if origin_of(url) not in settings.checkout_origin_list:
        # Never send a customer somewhere our policy does not name.
        raise ApiUnavailable("checkout URL outside CHECKOUT_ORIGINS")
    return RedirectResponse(url, 303)


async def hosted_checkout(request: Request) -> Response:
    """`CHECKOUT_BASE_URL` + session id in staging and production: the page any API client
    sends its customer to, which opens Cashfree's checkout for that payment session. (With
    the emulator, `checkout_url` is the emulator's own page and this one does not exist.)"""
    pages = pages_of(request)
    session_id = str(request.path_params["session_id"])
    if pages.settings.checkout_mode != CheckoutMode.CASHFREE_JS or not SESSION.match(session_id):
        return pages.render(request, "customer/link_error.html", {"expired": False}, 404)
    return _checkout(pages, request, {"payment_session_id": session_id})


async def return_page(request: Request) -> Response:
    """Where checkout sends the customer back (and the payment-failed email links): asks
    Cashfree through the API, then shows success, pending (the page keeps checking), or
    failure with a retry."""
    pages = pages_of(request)
    token = _token(request)
    try:
        view = await _view(pages, token, verify=True)
    except (ApiError, ApiUnavailable) as error:
        return _failure(pages, request, error)
    state = payment_state(view["payment"])
    if state == "none":
        return RedirectResponse(f"/pay/{token}", 303)
    return pages.render(
        request,
        "customer/result.html",
        {
            "token": token,
            "invoice": view["invoice"],
            "payment": view["payment"],
            "state": state,
            "form_key": uuid.uuid4().hex,
        },
    )


async def status(request: Request) -> Response:
    """The return page's check while pending: `{state, status}`; `?verify=1` asks Cashfree."""
    pages = pages_of(request)
    try:
        view = await _view(pages, _token(request), verify=request.query_params.get("verify") == "1")
    except ApiError as error:
        return JSONResponse({"error": error.code}, status_code=error.status)
    except ApiUnavailable:
        return JSONResponse({"error": "unavailable"}, status_code=503)
    payment = view["payment"]
    return JSONResponse(
        {"state": payment_state(payment), "status": payment["status"] if payment else None}
    )


def routes() -> list[Route]:
    return [
        Route("/pay/{token}", invoice_page, methods=["GET"]),
        Route("/pay/{token}/pay", pay, methods=["POST"]),
        Route("/pay/{token}/return", return_page, methods=["GET"]),
        Route("/pay/{token}/status", status, methods=["GET"]),
        Route("/checkout/{session_id}", hosted_checkout, methods=["GET"]),
    ]
