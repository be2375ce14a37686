"""The hosted checkout page: a person picks the outcome of a payment attempt."""

from html import escape
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from cashfree_emulator.errors import CashfreeError
from cashfree_emulator.instruments import FAILURE_REASONS, PAYMENT_METHODS
from cashfree_emulator.orders import expire_if_due
from cashfree_emulator.payments import attempt_payment
from cashfree_emulator.pipeline import emulator_of
from cashfree_emulator.records import Order
from cashfree_emulator.schemas import PayRequest

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:2rem auto}}
fieldset{{margin:1rem 0}}button{{padding:.5rem 1.5rem}}</style></head>
<body><h1>{title}</h1>{content}</body></html>"""


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), content=content), status)


def _options(values: tuple[str, ...]) -> str:
    return "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)


def _form(order: Order) -> str:
    outcomes = "".join(
        f'<label><input type="radio" name="outcome" value="{value}"{checked}> {label}</label><br>'
        for value, label, checked in (
            ("SUCCESS", "Pay successfully", " checked"),
            ("FAILED", "Fail the payment", ""),
            ("USER_DROPPED", "Leave without paying (user dropped)", ""),
        )
    )
    return (
        f"<p>Order <code>{escape(order.order_id)}</code>: "
        f"<strong>{order.currency} {order.amount}</strong></p>"
        f'<form method="post"><fieldset><legend>Outcome</legend>{outcomes}</fieldset>'
        f'<label>Payment method <select name="payment_method">{_options(PAYMENT_METHODS)}'
        "</select></label><br>"
        f'<label>Failure reason <select name="failure_reason">{_options(FAILURE_REASONS)}'
        '</select></label><br><br><button type="submit">Submit</button></form>'
    )


def _return_location(return_url: str, order_id: str) -> str:
    # Cashfree fills an `{order_id}` placeholder; otherwise the id is added as a parameter.
    if "{order_id}" in return_url:
        return return_url.replace("{order_id}", order_id)
    parts = urlsplit(return_url)
    query = f"{parts.query}&" if parts.query else ""
    query += urlencode({"order_id": order_id})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


async def checkout_page(request: Request) -> Response:
    emulator = emulator_of(request)
    order = emulator.store.order_by_session(request.path_params["session_id"])
    if order is None:
        return _page("Payment link not found", "<p>This payment session does not exist.</p>", 404)
    expire_if_due(order)
    if order.status != "ACTIVE":
        return _page("Order not payable", f"<p>The order is {escape(order.status)}.</p>", 409)
    return _page("Cashfree emulator checkout", _form(order))


async def submit_checkout(request: Request) -> Response:
    emulator = emulator_of(request)
    order = emulator.store.order_by_session(request.path_params["session_id"])
    if order is None:
        return _page("Payment link not found", "<p>This payment session does not exist.</p>", 404)
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    outcome = form.get("outcome", "SUCCESS")
    try:
        pay = PayRequest(
            outcome=outcome,
            payment_method=form.get("payment_method", "upi"),
            failure_reason=form.get("failure_reason") if outcome == "FAILED" else None,
        )
        payment = attempt_payment(emulator, order, pay)
    except (CashfreeError, ValueError) as exc:
        return _page("Payment not possible", f"<p>{escape(str(exc))}</p>", 400)
    if order.return_url:
        return RedirectResponse(_return_location(order.return_url, order.order_id), 303)
    return _page(
        "Payment result",
        f"<p>Payment <code>{escape(payment.cf_payment_id)}</code> for order "
        f"<code>{escape(order.order_id)}</code>: <strong>{escape(payment.status)}</strong></p>",
    )


ROUTES = [
    Route("/checkout/{session_id}", checkout_page, methods=["GET"]),
    Route("/checkout/{session_id}", submit_checkout, methods=["POST"]),
]
