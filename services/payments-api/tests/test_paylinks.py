"""Pay links: the customer's way to one invoice without logging in, acting for its issuer on
that invoice only."""

from __future__ import annotations

from typing import Any

from cashfree_emulator.testing import RunningEmulator
from paycore.invoices.paylinks import PayLinks
from payments_api_testing import PAY_LINK_SECRET, ApiClient, new_key, new_user
from test_invoices import invoice_body, issue, number

PAY_LINKS = "/api/v1/pay-links"


async def issued(api: ApiClient, user: str, **overrides: Any) -> tuple[dict[str, Any], str]:
    """An invoice and its pay-link token (from the `pay_url` its issuer sees)."""
    response = await issue(api, user, invoice_body(number(), **overrides))
    assert response.status_code == 201, response.text
    invoice = response.json()["data"]
    prefix = "https://pay.example/pay/"
    assert invoice["pay_url"].startswith(prefix)
    assert invoice["pay_link_expires_at"]
    return invoice, invoice["pay_url"].removeprefix(prefix)


async def pay(api: ApiClient, token: str, **body: Any) -> Any:
    return await api.http.post(
        f"{PAY_LINKS}/{token}/pay", json=body, headers={"idempotency-key": new_key()}
    )


async def test_the_link_shows_the_invoice_without_contact_details(api: ApiClient) -> None:
    invoice, token = await issued(api, new_user())
    response = await api.http.get(f"{PAY_LINKS}/{token}")
    assert response.status_code == 200, response.text
    view = response.json()["data"]
    assert view["payment"] is None
    shown = view["invoice"]
    assert shown["invoice_number"] == invoice["invoice_number"]
    assert (shown["total"], shown["tax"], shown["status"]) == (38_409, 5_859, "UNPAID")
    assert shown["phone_required"] is False
    assert "accounts@meera.example" not in response.text
    assert "9123456780" not in response.text


async def test_paying_through_the_link_opens_one_order_for_the_invoice(
    api: ApiClient, emu: RunningEmulator
) -> None:
    user = new_user()
    invoice, token = await issued(api, user)
    first = await pay(api, token, return_url="https://pay.example/pay/x/return")
    assert first.status_code == 201, first.text
    payment = first.json()["data"]
    assert payment["amount"] == invoice["total"]
    assert payment["checkout_url"].endswith(payment["payment_session_id"])
    again = await pay(api, token)
    assert again.status_code == 200
    assert again.json()["data"]["order_id"] == payment["order_id"]

    await emu.control.pay(payment["payment_session_id"], "SUCCESS")
    verified = await api.http.post(f"{PAY_LINKS}/{token}/verify")
    assert verified.status_code == 200, verified.text
    view = verified.json()["data"]
    assert view["payment"]["status"] == "SUCCESS"
    assert view["invoice"]["status"] == "PAID"
    # The issuer's own view agrees, and the payment is theirs.
    mine = await api.http.get(
        f"/api/v1/payments/{payment['payment_id']}", headers=api.headers(user)
    )
    assert mine.status_code == 200
    paid_again = await pay(api, token)
    assert paid_again.status_code == 409
    assert paid_again.json()["error"]["code"] == "invoice_already_paid"


async def test_a_client_without_a_phone_gives_one(api: ApiClient) -> None:
    client = {"name": "No Phone Ltd", "email": "np@example.com"}
    _, token = await issued(api, new_user(), client=client)
    view = (await api.http.get(f"{PAY_LINKS}/{token}")).json()["data"]
    assert view["invoice"]["phone_required"] is True
    refused = await pay(api, token)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "customer_phone_required"
    assert (await pay(api, token, customer_phone="9000000001")).status_code == 201


async def test_bad_altered_and_expired_links_are_refused(api: ApiClient) -> None:
    invoice, token = await issued(api, new_user())
    for bad in ("nonsense", token[:-2] + ("AA" if not token.endswith("AA") else "BB")):
        response = await api.http.get(f"{PAY_LINKS}/{bad}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "pay_link_invalid"
    expired = PayLinks(PAY_LINK_SECRET, ttl_seconds=1).issue(
        "usr_x", invoice["invoice_number"], now=1_000
    )
    response = await pay(api, expired)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "pay_link_expired"


async def test_a_link_to_someone_elses_invoice_number_finds_nothing(api: ApiClient) -> None:
    invoice, _ = await issued(api, new_user())
    forged = PayLinks(PAY_LINK_SECRET).issue(new_user(), invoice["invoice_number"])
    response = await api.http.get(f"{PAY_LINKS}/{forged}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "invoice_not_found"


async def test_a_customer_key_never_replays_the_issuers_answer(api: ApiClient) -> None:
    user = new_user()
    invoice, token = await issued(api, user)
    key = new_key()
    mine = await api.http.post(
        f"/api/v1/invoices/{invoice['invoice_number']}/pay",
        json={},
        headers=api.headers(user, key=key),
    )
    assert mine.status_code == 201
    theirs = await api.http.post(
        f"{PAY_LINKS}/{token}/pay", json={}, headers={"idempotency-key": key}
    )
    # Not a replay of the issuer's request: the invoice's open payment, found afresh.
    assert theirs.status_code == 200
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["data"]["order_id"] == mine.json()["data"]["order_id"]


async def test_the_timeline_has_the_history_and_the_attempts(
    api: ApiClient, emu: RunningEmulator
) -> None:
    user = new_user()
    _, token = await issued(api, user)
    payment = (await pay(api, token)).json()["data"]
    await emu.control.pay(payment["payment_session_id"], "SUCCESS")
    await api.http.post(f"{PAY_LINKS}/{token}/verify")
    response = await api.http.get(
        f"/api/v1/payments/{payment['payment_id']}/timeline", headers=api.headers(user)
    )
    assert response.status_code == 200, response.text
    timeline = response.json()["data"]
    assert [entry["to_status"] for entry in timeline["history"]][-1] == "SUCCESS"
    [attempt] = timeline["attempts"]
    assert attempt["amount"] == payment["amount"]
    assert attempt["cf_payment_id"]
    other = await api.http.get(
        f"/api/v1/payments/{payment['payment_id']}/timeline", headers=api.headers(new_user())
    )
    assert other.status_code == 404


async def test_a_failed_attempt_is_shown_and_the_order_stays_payable(
    api: ApiClient, emu: RunningEmulator
) -> None:
    _, token = await issued(api, new_user())
    payment = (await pay(api, token)).json()["data"]
    await emu.control.pay(payment["payment_session_id"], "FAILED")
    view = (await api.http.post(f"{PAY_LINKS}/{token}/verify")).json()["data"]
    assert view["payment"]["status"] == "PENDING"
    assert view["payment"]["last_attempt_failed"] is True
    assert view["payment"]["last_attempt_reason"]
    again = (await pay(api, token)).json()["data"]
    assert again["order_id"] == payment["order_id"]
    await emu.control.pay(payment["payment_session_id"], "SUCCESS")
    paid = (await api.http.post(f"{PAY_LINKS}/{token}/verify")).json()["data"]
    assert paid["payment"]["status"] == "SUCCESS"
    assert paid["payment"]["last_attempt_failed"] is False
