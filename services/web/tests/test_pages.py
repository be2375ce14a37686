"""The pages over HTTP (no browser): what each shows, what each form does, and the edge
(CSP, CSRF, cookies). The browser tests walk the same flows in Chromium."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from cashfree_emulator.testing import RunningEmulator
from paycore.invoices.paylinks import PayLinks
from paycore.reconciliation.models import MismatchKind, ReconciliationItem, ReconciliationRun
from paycore.webhooks.models import WebhookLog
from paycore_web.app import build_app
from payments_api_testing import PAY_LINK_SECRET, ApiClient, new_key, new_user
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from web_testing import ORIGIN, WebClient, form_key_of, web_client, web_settings

INVOICE = {
    "currency": "INR",
    "issue_date": "2026-11-01",
    "due_date": "2026-11-30",
    "client": {"name": "Meera Traders", "email": "accounts@meera.example", "phone": "9123456780"},
    "items": [
        {"description": "Consulting", "quantity": 3, "unit_price": 50_000_00},
        {"description": "Travel", "quantity": 1, "unit_price": 2_550},
    ],
    "tax_rate": "18",
}


async def issued(api: ApiClient, user: str, **overrides: Any) -> dict[str, Any]:
    body = {**INVOICE, "invoice_number": "INV-" + new_key()[:10].upper(), **overrides}
    response = await api.http.post(
        "/api/v1/invoices", json=body, headers=api.headers(user, key=new_key())
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def invoice_form(page: str, invoice_number: str, **changes: Any) -> dict[str, Any]:
    """The console's new-invoice form filled in (one item of ₹12.34, due in November), with
    `changes`; its form key is the one on `page`."""
    return {
        "idempotency_key": form_key_of(page),
        "invoice_number": invoice_number,
        "issue_date": "2026-11-01",
        "due_date": "2026-11-15",
        "tax_rate": "18",
        "client_name": "Asha",
        "client_email": "asha@example.com",
        "item_description": ["Design"],
        "item_quantity": ["1"],
        "item_unit_price": ["12.34"],
        **changes,
    }


def pay_path(invoice: dict[str, Any]) -> str:
    return "/pay/" + str(invoice["pay_url"]).rsplit("/pay/", 1)[1]


async def pay_now(web: WebClient, path: str) -> Any:
    page = await web.http.get(path)
    return await web.post(path + "/pay", {"idempotency_key": form_key_of(page.text)})


class TestCustomerPages:
    async def test_the_invoice_page_shows_items_tax_total_and_due_date(
        self, web: WebClient, api: ApiClient
    ) -> None:
        invoice = await issued(api, new_user())
        page = await web.http.get(pay_path(invoice))
        assert page.status_code == 200
        text = page.text
        assert invoice["invoice_number"] in text
        assert "₹1,50,025.50" in text  # subtotal in Indian grouping
        assert "Tax (18%)" in text
        assert "₹1,77,030.09" in text  # total: 150 025.50 + 18 % rounded half up
        assert "2026-11-30" in text
        assert "Pay Now" in text
        assert "accounts@meera.example" not in text

    async def test_pay_now_goes_to_checkout_and_back_to_a_verified_success(
        self, web: WebClient, api: ApiClient, emu: RunningEmulator
    ) -> None:
        path = pay_path(await issued(api, new_user()))
        response = await pay_now(web, path)
        assert response.status_code == 303
        checkout = response.headers["location"]
        assert checkout.startswith(emu.base_url + "/checkout/")
        session_id = checkout.rsplit("/", 1)[1]
        # The return URL Cashfree gets leads back to this invoice's return page.
        again = await pay_now(web, path)
        assert again.headers["location"] == checkout  # the open order, reused

        pending = await web.http.get(path + "/return")
        assert "Waiting for confirmation" in pending.text
        assert 'data-poll="' + path + '/status"' in pending.text

        await emu.control.pay(session_id, "SUCCESS")
        status = await web.http.get(path + "/status")
        assert status.json()["state"] == "pending"  # not yet asked: no webhook here
        verified = await web.http.get(path + "/status?verify=1")
        assert verified.json() == {"state": "success", "status": "SUCCESS"}
        done = await web.http.get(path + "/return")
        assert "Payment received" in done.text
        receipt = await web.http.get(path)
        assert "Receipt" in receipt.text
        assert "Pay Now" not in receipt.text

    async def test_a_failed_payment_offers_a_retry(
        self, web: WebClient, api: ApiClient, emu: RunningEmulator
    ) -> None:
        path = pay_path(await issued(api, new_user()))
        first = await pay_now(web, path)
        await emu.control.pay(first.headers["location"].rsplit("/", 1)[1], "FAILED")
        result = await web.http.get(path + "/return")
        assert "Payment failed" in result.text
        assert "Try again" in result.text
        retry = await web.post(path + "/pay", {"idempotency_key": form_key_of(result.text)})
        assert retry.status_code == 303
        # The order is still payable: the retry goes back to the same checkout.
        assert retry.headers["location"] == first.headers["location"]
        status = await web.http.get(path + "/status")
        assert status.json() == {"state": "failed", "status": "PENDING"}

    async def test_a_client_without_phone_is_asked_for_one(
        self, web: WebClient, api: ApiClient
    ) -> None:
        client = {"name": "No Phone", "email": "np@example.com"}
        path = pay_path(await issued(api, new_user(), client=client))
        page = await web.http.get(path)
        assert 'name="customer_phone"' in page.text
        refused = await web.post(path + "/pay", {"idempotency_key": form_key_of(page.text)})
        assert refused.status_code == 400
        assert "Enter the phone number" in refused.text
        # The answer is a new form (a new key): the body differs from the refused one.
        accepted = await web.post(
            path + "/pay",
            {"idempotency_key": form_key_of(refused.text), "customer_phone": "9000000002"},
        )
        assert accepted.status_code == 303

    async def test_bad_and_expired_links_say_so(self, web: WebClient, api: ApiClient) -> None:
        invoice = await issued(api, new_user())
        bad = await web.http.get("/pay/not-a-real-token")
        assert bad.status_code == 404
        assert "not valid" in bad.text
        weird = await web.http.get("/pay/abc%3Fx=1")
        assert weird.status_code == 404
        expired = PayLinks(PAY_LINK_SECRET, ttl_seconds=1).issue(
            "usr_x", invoice["invoice_number"], now=1_000
        )
        gone = await web.http.get(f"/pay/{expired}")
        assert gone.status_code == 410
        assert "expired" in gone.text

    async def test_every_page_has_a_strict_policy(self, web: WebClient, api: ApiClient) -> None:
        page = await web.http.get(pay_path(await issued(api, new_user())))
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert f"form-action 'self' {web.settings.checkout_origin_list[0]}" in policy
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["cache-control"] == "no-store"
        assert "<script>" not in page.text
        assert "style=" not in page.text
        assert "set-cookie" not in page.headers  # customer pages never touch the session

    async def test_a_post_from_another_site_is_refused(
        self, web: WebClient, api: ApiClient
    ) -> None:
        path = pay_path(await issued(api, new_user()))
        for headers in ({"origin": "https://evil.example"}, {}):
            response = await web.http.post(
                path + "/pay", data={"idempotency_key": uuid.uuid4().hex}, headers=headers
            )
            assert response.status_code == 403


class TestConsole:
    async def test_pages_need_a_signed_in_merchant(self, web: WebClient) -> None:
        web.http.cookies.clear()
        response = await web.http.get("/console/invoices")
        assert response.status_code == 303
        assert response.headers["location"] == "/console/sign-in"

    async def test_a_bad_token_is_not_accepted(self, web: WebClient) -> None:
        web.http.cookies.clear()
        response = await web.sign_in("not-a-token")
        assert response.status_code == 401
        assert "not accepted" in response.text

    async def test_the_session_cookie_is_strict_and_http_only(
        self, web: WebClient, api: ApiClient
    ) -> None:
        web.http.cookies.clear()
        response = await web.sign_in(api.token(new_user()))
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie

    async def test_create_search_view_an_invoice(self, web: WebClient, api: ApiClient) -> None:
        web.http.cookies.clear()
        user = new_user()
        await web.sign_in(api.token(user))
        form = await web.http.get("/console/invoices/new")
        number = "INV-C-" + new_key()[:8].upper()
        created = await web.post(
            "/console/invoices",
            invoice_form(
                form.text,
                number,
                due_date="2026-11-20",
                client_name="Asha Rao",
                client_phone="9876543210",
                item_description=["Design", "", ""],
                item_quantity=["2", "1", "1"],
                item_unit_price=["1,500.50", "", ""],
            ),
            page=form.text,
        )
        assert created.status_code == 303, created.text
        view = await web.http.get(created.headers["location"])
        assert "₹3,541.18" in view.text  # 2 × 1 500.50 = 3 001.00 + 18 % = 540.18
        assert 'data-testid="pay-link"' in view.text

        found = await web.http.get(
            "/console/invoices", params={"client_email": "asha@example.com", "status": "UNPAID"}
        )
        assert number in found.text
        other = await web.http.get("/console/invoices", params={"status": "PAID"})
        assert number not in other.text

    async def test_a_bad_invoice_form_shows_what_to_fix(
        self, web: WebClient, api: ApiClient
    ) -> None:
        web.http.cookies.clear()
        await web.sign_in(api.token(new_user()))
        form = await web.http.get("/console/invoices/new")
        response = await web.post(
            "/console/invoices",
            invoice_form(form.text, "INV-BAD-1", due_date="2026-10-01", item_unit_price=["12.345"]),
            page=form.text,
        )
        assert response.status_code == 400
        assert "unit price must be an amount" in response.text
        assert 'value="INV-BAD-1"' in response.text  # what was typed stays

        # Refused by the API (due before issue): corrected, the same page's form goes through.
        refused = await web.post(
            "/console/invoices",
            invoice_form(response.text, "INV-BAD-" + new_key()[:6], due_date="2026-10-01"),
            page=response.text,
        )
        assert refused.status_code == 400
        assert "due_date is before issue_date" in refused.text
        fixed = await web.post(
            "/console/invoices",
            invoice_form(refused.text, "INV-OK-" + new_key()[:6]),
            page=refused.text,
        )
        assert fixed.status_code == 303

    async def test_a_form_without_the_csrf_token_is_refused(
        self, web: WebClient, api: ApiClient
    ) -> None:
        web.http.cookies.clear()
        await web.sign_in(api.token(new_user()))
        response = await web.post("/console/invoices", {"invoice_number": "INV-X"})
        assert response.status_code == 403
        assert "expired" in response.text

    async def test_refunds_partial_then_the_rest_with_the_amount_left(
        self, web: WebClient, api: ApiClient, emu: RunningEmulator
    ) -> None:
        web.http.cookies.clear()
        user = new_user()
        invoice = await issued(api, user)
        path = pay_path(invoice)
        checkout = (await pay_now(web, path)).headers["location"]
        await emu.control.pay(checkout.rsplit("/", 1)[1], "SUCCESS")
        await web.http.get(path + "/return")  # verifies: SUCCESS
        await web.sign_in(api.token(user))
        view = await web.http.get(f"/console/invoices/{invoice['invoice_number']}")
        payment_id = view.text.split('href="/console/payments/')[1].split('"')[0]
        detail = await web.http.get(f"/console/payments/{payment_id}")
        assert "Left to refund: <strong>₹1,77,030.09</strong>" in detail.text
        assert "Attempts" in detail.text
        assert "success" in detail.text

        too_much = await web.refund(payment_id, "200000", detail.text)
        assert too_much.status_code == 400
        assert "more than is left to refund (₹1,77,030.09)" in too_much.text

        partial = await web.refund(payment_id, "1000", too_much.text)
        assert partial.status_code == 303
        after = await web.http.get(f"/console/payments/{payment_id}")
        assert "Left to refund: <strong>₹1,76,030.09</strong>" in after.text
        follow = after.text.split('data-follow="')[1].split('"')[0]
        status = await web.http.get(follow)
        assert status.json() == {"status": "INITIATED", "final": False}

    async def test_payments_list_filters_by_status(
        self, web: WebClient, api: ApiClient, emu: RunningEmulator
    ) -> None:
        web.http.cookies.clear()
        user = new_user()
        path = pay_path(await issued(api, user))
        await pay_now(web, path)
        await web.sign_in(api.token(user))
        pending = await web.http.get("/console/payments", params={"status": "PENDING"})
        assert "pay_" in pending.text
        failed = await web.http.get("/console/payments", params={"status": "FAILED"})
        assert "No payments match" in failed.text
        bad = await web.http.get("/console/payments", params={"from": "yesterday"})
        assert bad.status_code == 200
        assert "alert-error" in bad.text


async def test_the_api_is_told_the_browsers_address(emu: RunningEmulator) -> None:
    """The API counts its per-IP limits by the customer: these pages pass the address on."""
    seen: list[str | None] = []

    async def api_health(request: Request) -> Response:
        seen.append(request.headers.get("x-forwarded-for"))
        return JSONResponse({"error": {"code": "pay_link_invalid", "message": "no"}}, 404)

    fake_api = Starlette(routes=[Route("/api/v1/pay-links/{token}", api_health)])
    settings = web_settings(emu)
    app = build_app(settings, transport=httpx.ASGITransport(app=fake_api))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 5000)),
            base_url="http://testserver",
        ) as http,
    ):
        response = await http.get("/pay/sometoken")
    assert response.status_code == 404
    assert seen == ["203.0.113.7"]


async def test_production_checkout_uses_cashfrees_sdk(api: ApiClient, emu: RunningEmulator) -> None:
    """cashfree_js mode: Pay Now renders a page that opens Cashfree's checkout with the payment
    session id; the policy lets in Cashfree's script and nothing else."""
    origins = "https://sdk.cashfree.com,https://sandbox.cashfree.com"
    async with web_client(api, emu, checkout_mode="cashfree_js", checkout_origins=origins) as web:
        path = pay_path(await issued(api, new_user()))
        response = await pay_now(web, path)
        assert response.status_code == 200
        assert 'src="https://sdk.cashfree.com/js/v3/cashfree.js"' in response.text
        session = response.text.split('data-session="')[1].split('"')[0]
        assert session.startswith("session_")
        assert 'data-mode="sandbox"' in response.text
        policy = response.headers["content-security-policy"]
        assert "script-src 'self' https://sdk.cashfree.com;" in policy
        assert f"connect-src 'self' {origins.replace(',', ' ')};" in policy
        assert "unsafe-inline" not in policy


async def test_a_token_too_long_for_a_cookie_is_refused_clearly(web: WebClient) -> None:
    web.http.cookies.clear()
    response = await web.sign_in("x" * 3000)
    assert response.status_code == 401
    assert "too long to keep in a browser cookie" in response.text


async def test_operations_are_for_admins(web: WebClient, api: ApiClient) -> None:
    web.http.cookies.clear()
    await web.sign_in(api.token(new_user()))
    refused = await web.http.get("/console/operations")
    assert refused.status_code == 403
    assert "needs the admin scope" in refused.text
    now = datetime.now(UTC)
    run_id = "rec_" + new_key()[:20]
    await ReconciliationRun(
        run_id=run_id, window_start=now, window_end=now, status="DONE", mismatched=1
    ).insert()
    await ReconciliationItem(
        item_id=run_id + ":1", run_id=run_id, kind=MismatchKind.AMOUNT, order_id="ord_Y"
    ).insert()
    await WebhookLog(
        log_id="whk_" + run_id,
        event_id="evt_" + run_id,
        event_type="PAYMENT_SUCCESS_WEBHOOK",
        body_sha256="0" * 64,
        signature="sig",
        timestamp="1700000000000",
        attempts=4,
        last_error="GatewayUnavailable",
        order_id="ord_Y",
        dead_lettered=True,
    ).insert()
    web.http.cookies.clear()
    await web.sign_in(api.token("ops_admin", "admin"))
    page = await web.http.get("/console/operations")
    assert page.status_code == 200
    assert run_id in page.text
    assert "ord_Y" in page.text
    assert "whk_" + run_id in page.text
    assert "GatewayUnavailable" in page.text


async def test_checkout_base_url_pages_open_cashfree_for_a_session(
    api: ApiClient, emu: RunningEmulator
) -> None:
    """In production CHECKOUT_BASE_URL points here: /checkout/<session id> opens Cashfree's
    checkout for any API client's payment."""
    async with web_client(api, emu, checkout_mode="cashfree_js") as web:
        page = await web.http.get("/checkout/session_abc-DEF_123")
        assert page.status_code == 200
        assert 'data-session="session_abc-DEF_123"' in page.text
        bad = await web.http.get('/checkout/session_"><script>')
        assert bad.status_code == 404
    async with web_client(api, emu) as local:
        # With the emulator, checkout_url is the emulator's page: nothing here.
        assert (await local.http.get("/checkout/session_abc")).status_code == 404


async def test_a_refund_without_a_final_answer_is_retried_with_the_same_key(
    emu: RunningEmulator,
) -> None:
    """The API away or busy: the form comes back with the same idempotency key, so sending it
    again repeats the request rather than refunding twice."""
    keys: list[str | None] = []

    async def invoices(request: Request) -> Response:
        return JSONResponse({"data": {"items": [], "next_cursor": None}})

    async def initiate(request: Request) -> Response:
        keys.append(request.headers.get("idempotency-key"))
        if len(keys) == 1:
            return JSONResponse(
                {"error": {"code": "idempotency_request_in_flight", "message": "busy"}}, 409
            )
        return JSONResponse({"data": {"refund_id": "rfd_1"}}, 202)

    fake_api = Starlette(
        routes=[
            Route("/api/v1/invoices", invoices),
            Route("/api/v1/refunds/initiate", initiate, methods=["POST"]),
        ]
    )
    app = build_app(web_settings(emu), transport=httpx.ASGITransport(app=fake_api))
    payment_id = "pay_" + "A" * 26
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http,
    ):
        web = WebClient(http, web_settings(emu))
        await web.sign_in("any-token")
        page = await http.get("/console/invoices")
        key = uuid.uuid4().hex
        first = await web.refund(payment_id, "100", page.text, key)
        assert first.status_code == 503
        assert form_key_of(first.text) == key
        again = await web.refund(payment_id, "100", first.text)
        assert again.status_code == 303
    assert keys == [key, key]
