"""Invoices: issued with totals we compute, read by their issuer, paid through a payment whose
status the invoice follows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cashfree_emulator.control import EmulatorControlError
from cashfree_emulator.testing import RunningEmulator
from paycore.alerts import AdminAlert
from paycore.invoices.models import Invoice
from paycore.payments.models import Payment
from payments_api_testing import ApiClient, create_order_calls, new_key, new_user

INVOICES = "/api/v1/invoices"


def invoice_body(number: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "invoice_number": number,
        "currency": "INR",
        "issue_date": "2026-11-01",
        "due_date": "2026-11-30",
        "client": {
            "name": "Meera Traders",
            "email": "accounts@meera.example",
            "phone": "9123456780",
            "address": "12 MG Road, Bengaluru",
        },
        "items": [
            {"description": "Consulting", "quantity": 3, "unit_price": 10_000},
            {"description": "Travel", "quantity": 1, "unit_price": 2_550},
        ],
        "tax_rate": "18",
    }
    body.update(overrides)
    return body


def number() -> str:
    return "INV-" + new_key()[:12].upper()


async def verify(api: ApiClient, user: str, payment_id: str) -> Any:
    answer = await api.verify(user, payment_id)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


async def issue(api: ApiClient, user: str, body: dict[str, Any], key: str | None = None) -> Any:
    return await api.http.post(INVOICES, json=body, headers=api.headers(user, key=key or new_key()))


async def paying(api: ApiClient) -> tuple[str, str, str, dict[str, Any]]:
    """A new user's invoice with a payment opened for it: the user, the invoice number, its
    pay URL (`POST` opens or resumes a payment) and the payment as that POST answered."""
    user, invoice_number = new_user(), number()
    await issue(api, user, invoice_body(invoice_number))
    url = f"{INVOICES}/{invoice_number}/pay"
    opened = await api.http.post(url, headers=api.headers(user, key=new_key()))
    assert opened.status_code == 201, opened.text
    return user, invoice_number, url, opened.json()["data"]


class TestCreate:
    async def test_computes_subtotal_tax_and_total(self, api: ApiClient) -> None:
        response = await issue(api, new_user(), invoice_body(number()))
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["subtotal"] == 32_550
        assert data["tax"] == 5_859  # 18 % of 32 550 = 5 859.0
        assert data["total"] == 38_409
        assert data["status"] == "UNPAID"
        assert [item["amount"] for item in data["items"]] == [30_000, 2_550]

    async def test_tax_rounds_half_up_to_the_paisa(self, api: ApiClient) -> None:
        body = invoice_body(
            number(),
            items=[{"description": "Widget", "quantity": 1, "unit_price": 1_005}],
            tax_rate=12.5,
        )
        data = (await issue(api, new_user(), body)).json()["data"]
        assert data["tax"] == 126  # 125.625 → 126
        assert data["tax_rate_bps"] == 1_250

    async def test_refuses_totals_that_do_not_add_up(self, api: ApiClient) -> None:
        body = invoice_body(number(), subtotal=32_550, tax=5_859, total=40_000)
        response = await issue(api, new_user(), body)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invoice_totals_mismatch"
        assert error["details"]["differences"] == {"total": {"sent": 40_000, "expected": 38_409}}

    async def test_accepts_matching_totals_and_item_amounts(self, api: ApiClient) -> None:
        items = [{"description": "Consulting", "quantity": 2, "unit_price": 500, "amount": 1_000}]
        body = invoice_body(number(), items=items, tax_rate=0, subtotal=1_000, tax=0, total=1_000)
        assert (await issue(api, new_user(), body)).status_code == 201

    async def test_an_invoice_number_is_issued_once(self, api: ApiClient) -> None:
        user, invoice_number = new_user(), number()
        assert (await issue(api, user, invoice_body(invoice_number))).status_code == 201
        again = await issue(api, user, invoice_body(invoice_number, notes="second"))
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "invoice_already_exists"

    async def test_client_contact_details_are_sealed(self, api: ApiClient) -> None:
        invoice_number = number()
        await issue(api, new_user(), invoice_body(invoice_number))
        raw = await Invoice.get_pymongo_collection().find_one({"invoice_number": invoice_number})
        text = str(raw)
        assert "accounts@meera.example" not in text
        assert "9123456780" not in text
        assert "MG Road" not in text

    async def test_due_date_before_issue_date_is_invalid(self, api: ApiClient) -> None:
        body = invoice_body(number(), due_date="2026-10-01")
        response = await issue(api, new_user(), body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"


class TestRead:
    async def test_lists_the_callers_invoices_newest_first(self, api: ApiClient) -> None:
        user = new_user()
        numbers = [number() for _ in range(3)]
        for invoice_number in numbers:
            await issue(api, user, invoice_body(invoice_number))
        await issue(api, new_user(), invoice_body(number()))
        headers = api.headers(user, "read")
        page = (await api.http.get(f"{INVOICES}?limit=2", headers=headers)).json()["data"]
        assert [i["invoice_number"] for i in page["items"]] == numbers[::-1][:2]
        rest = await api.http.get(
            f"{INVOICES}?limit=2&cursor={page['next_cursor']}", headers=headers
        )
        assert [i["invoice_number"] for i in rest.json()["data"]["items"]] == [numbers[0]]

    async def test_someone_elses_invoice_is_not_found(self, api: ApiClient) -> None:
        invoice_number = number()
        await issue(api, new_user(), invoice_body(invoice_number))
        response = await api.http.get(
            f"{INVOICES}/{invoice_number}", headers=api.headers(new_user(), "read")
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "invoice_not_found"

    async def test_admin_filters_every_users_invoices_by_client_email(self, api: ApiClient) -> None:
        email = f"{new_key()[:8]}@client.example"
        client = {"name": "Client", "email": email}
        mine, theirs = number(), number()
        await issue(api, new_user(), invoice_body(mine, client=client))
        await issue(api, new_user(), invoice_body(theirs, client=client))
        response = await api.http.get(
            f"{INVOICES}?client_email={email.upper()}", headers=api.headers("ops", "admin")
        )
        assert {i["invoice_number"] for i in response.json()["data"]["items"]} == {mine, theirs}
        as_user = await api.http.get(
            f"{INVOICES}?client_email={email}", headers=api.headers(new_user(), "read")
        )
        assert as_user.json()["data"]["items"] == []


class TestPay:
    async def test_pay_creates_the_payment_and_the_invoice_follows_it(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, invoice_number = new_user(), number()
        await issue(api, user, invoice_body(invoice_number))
        paid = await api.http.post(
            f"{INVOICES}/{invoice_number}/pay", headers=api.headers(user, key=new_key())
        )
        assert paid.status_code == 201, paid.text
        payment = paid.json()["data"]
        assert payment["amount"] == 38_409
        assert payment["invoice_number"] == invoice_number
        again = await api.http.post(
            f"{INVOICES}/{invoice_number}/pay", headers=api.headers(user, key=new_key())
        )
        assert again.status_code == 200  # the open payment's checkout, not a second order
        assert again.json()["data"]["payment_id"] == payment["payment_id"]

        await emu.control.pay(payment["payment_session_id"], "SUCCESS")
        await verify(api, user, payment["payment_id"])
        invoice = await api.http.get(f"{INVOICES}/{invoice_number}", headers=api.headers(user))
        assert invoice.json()["data"]["status"] == "PAID"
        assert invoice.json()["data"]["payment_id"] == payment["payment_id"]

        refund = await api.http.post(
            "/api/v1/refunds/initiate",
            json={"payment_id": payment["payment_id"], "amount": 409},
            headers=api.headers(user, key=new_key()),
        )
        assert refund.status_code == 202
        invoice = await api.http.get(f"{INVOICES}/{invoice_number}", headers=api.headers(user))
        assert invoice.json()["data"]["status"] == "REFUND_INITIATING"

        third = await api.http.post(
            f"{INVOICES}/{invoice_number}/pay", headers=api.headers(user, key=new_key())
        )
        assert third.status_code == 409
        assert third.json()["error"]["code"] == "invoice_already_paid"

    async def test_a_dropped_attempt_keeps_the_same_order_for_the_next_try(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        # Issue 11: USER_DROPPED on order A, pay again, B opened and paid, A still payable.
        user, invoice_number, url, first = await paying(api)
        await emu.control.pay(first["payment_session_id"], "USER_DROPPED")
        await verify(api, user, first["payment_id"])
        second = await api.http.post(url, headers=api.headers(user, key=new_key()))
        assert second.status_code == 200  # the same, still payable order: no second order
        assert second.json()["data"]["payment_id"] == first["payment_id"]
        assert second.json()["data"]["payment_session_id"] == first["payment_session_id"]
        assert len(await create_order_calls(emu, first["order_id"])) == 1
        await emu.control.pay(first["payment_session_id"], "SUCCESS")
        paid = await verify(api, user, first["payment_id"])
        assert paid["status"] == "SUCCESS"
        invoice = await api.http.get(f"{INVOICES}/{invoice_number}", headers=api.headers(user))
        assert invoice.json()["data"]["status"] == "PAID"
        assert invoice.json()["data"]["overpaid"] is False

    async def test_an_expired_order_is_followed_by_a_new_one(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, _, url, first = await paying(api)
        await emu.control.expire_order(first["order_id"])
        second = await api.http.post(url, headers=api.headers(user, key=new_key()))
        assert second.status_code == 201
        assert second.json()["data"]["payment_id"] != first["payment_id"]
        old = await verify(api, user, first["payment_id"])
        assert old["status"] == "EXPIRED"

    async def test_an_order_still_payable_is_terminated_before_a_new_one(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, _, url, first = await paying(api)
        # Held FAILED (as older code did after one failed attempt) while Cashfree's order is
        # still ACTIVE: a new order may only open once the old one can take no money.
        await Payment.get_pymongo_collection().update_one(
            {"_id": first["payment_id"]}, {"$set": {"status": "FAILED"}}
        )
        second = await api.http.post(url, headers=api.headers(user, key=new_key()))
        assert second.status_code == 201
        assert second.json()["data"]["payment_id"] != first["payment_id"]
        terminations = await emu.control.calls(operation="terminate_order")
        assert [call.path for call in terminations if first["order_id"] in call.path]
        with pytest.raises(EmulatorControlError) as refused:
            await emu.control.pay(first["payment_session_id"], "SUCCESS")
        assert refused.value.status == 409

    async def test_a_late_success_on_a_closed_order_marks_the_invoice_overpaid(
        self, api: ApiClient, emu: RunningEmulator
    ) -> None:
        user, invoice_number, url, first = await paying(api)
        # An attempt is under way when the order expires; it succeeds after all, once the
        # second order is open and paid (3 s later: the steps below take a fraction of that).
        await emu.control.pay(first["payment_session_id"], "SUCCESS", delay_ms=3_000)
        await emu.control.expire_order(first["order_id"])
        second = (await api.http.post(url, headers=api.headers(user, key=new_key()))).json()
        second_payment = second["data"]
        assert second_payment["payment_id"] != first["payment_id"]
        await emu.control.pay(second_payment["payment_session_id"], "SUCCESS")
        await verify(api, user, second_payment["payment_id"])
        await asyncio.sleep(3.2)
        late = await verify(api, user, first["payment_id"])
        assert late["status"] == "SUCCESS"  # money received is recorded, never lost
        invoice = (
            await api.http.get(f"{INVOICES}/{invoice_number}", headers=api.headers(user))
        ).json()["data"]
        assert invoice["payment_id"] == second_payment["payment_id"]
        assert invoice["overpaid"] is True
        assert invoice["extra_payments"] == [first["payment_id"]]
        alerts = await AdminAlert.find(AdminAlert.kind == "invoice_overpaid").to_list()
        assert [
            a.detail["extra"] for a in alerts if a.detail["invoice_number"] == invoice_number
        ] == [first["payment_id"]]
        closed = await AdminAlert.find(AdminAlert.kind == "payment_success_after_close").to_list()
        assert first["payment_id"] in [a.detail["payment_id"] for a in closed]

    @pytest.mark.parametrize(
        ("unit_price", "code"), [(0, "amount_too_small"), (10_000_000_01, "amount_too_large")]
    )
    async def test_paying_applies_the_same_amount_rules_as_create(
        self, api: ApiClient, emu: RunningEmulator, unit_price: int, code: str
    ) -> None:
        user, invoice_number = new_user(), number()
        items = [{"description": "Item", "quantity": 1, "unit_price": unit_price}]
        created = await issue(api, user, invoice_body(invoice_number, items=items, tax_rate="0"))
        assert created.status_code == 201, created.text
        before = len(await emu.control.calls(operation="create_order"))
        answer = await api.http.post(
            f"{INVOICES}/{invoice_number}/pay", headers=api.headers(user, key=new_key())
        )
        assert answer.status_code == 400, answer.text  # never a 500
        assert answer.json()["error"]["code"] == code
        assert len(await emu.control.calls(operation="create_order")) == before

    async def test_create_payment_for_an_invoice_must_match_its_total(self, api: ApiClient) -> None:
        user, invoice_number = new_user(), number()
        await issue(api, user, invoice_body(invoice_number))
        wrong = await api.create_payment(user, amount=100, invoice_number=invoice_number)
        assert wrong.status_code == 422
        assert wrong.json()["error"]["code"] == "invoice_amount_mismatch"
        right = await api.create_payment(user, amount=38_409, invoice_number=invoice_number)
        assert right.status_code == 201
        invoice = await api.http.get(f"{INVOICES}/{invoice_number}", headers=api.headers(user))
        assert invoice.json()["data"]["payment_id"] == right.json()["data"]["payment_id"]

    async def test_an_invoice_without_a_phone_needs_one_to_pay(self, api: ApiClient) -> None:
        user, invoice_number = new_user(), number()
        client = {"name": "No Phone Ltd", "email": "np@example.com"}
        await issue(api, user, invoice_body(invoice_number, client=client))
        url = f"{INVOICES}/{invoice_number}/pay"
        missing = await api.http.post(url, headers=api.headers(user, key=new_key()))
        assert missing.status_code == 400
        assert missing.json()["error"]["code"] == "customer_phone_required"
        given = await api.http.post(
            url, json={"customer_phone": "9000000001"}, headers=api.headers(user, key=new_key())
        )
        assert given.status_code == 201


class TestNumbersPerUser:
    async def test_two_users_may_use_the_same_number_and_learn_nothing(
        self, api: ApiClient
    ) -> None:
        invoice_number, first, second = number(), new_user(), new_user()
        assert (await issue(api, first, invoice_body(invoice_number))).status_code == 201
        theirs = await issue(api, second, invoice_body(invoice_number, notes="theirs"))
        assert theirs.status_code == 201  # not a 409 telling them the number is taken
        for user, notes in ((first, None), (second, "theirs")):
            got = await api.http.get(
                f"{INVOICES}/{invoice_number}", headers=api.headers(user, "read")
            )
            assert got.json()["data"]["notes"] == notes

    async def test_a_number_with_a_slash_is_refused_up_front(self, api: ApiClient) -> None:
        response = await issue(api, new_user(), invoice_body("INV/2026/001"))
        assert response.status_code == 400
        assert response.json()["error"]["details"]["errors"][0]["field"] == "invoice_number"

    async def test_an_invoice_stored_before_numbers_were_per_user_still_reads_and_pays(
        self, api: ApiClient
    ) -> None:
        user, invoice_number = new_user(), number()
        await issue(api, user, invoice_body(invoice_number))
        collection = Invoice.get_pymongo_collection()
        stored = await collection.find_one({"invoice_number": invoice_number})
        assert stored is not None
        # The old layout: the bare number as _id, no invoice_key.
        await collection.delete_one({"_id": stored["_id"]})
        legacy = {k: v for k, v in stored.items() if k != "invoice_key"} | {"_id": invoice_number}
        await collection.insert_one(legacy)

        got = await api.http.get(f"{INVOICES}/{invoice_number}", headers=api.headers(user, "read"))
        assert got.status_code == 200
        assert (
            await api.http.get(
                f"{INVOICES}/{invoice_number}", headers=api.headers(new_user(), "read")
            )
        ).status_code == 404
        paid = await api.http.post(
            f"{INVOICES}/{invoice_number}/pay", headers=api.headers(user, key=new_key())
        )
        assert paid.status_code == 201, paid.text
        after = await collection.find_one({"_id": invoice_number})
        assert after is not None
        assert after["payment_id"] == paid.json()["data"]["payment_id"]
