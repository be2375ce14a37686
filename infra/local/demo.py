"""The scripted walk `make run` shows: one invoice paid through the emulator's checkout, its
signed webhook applied, a partial refund and then the rest, and the emails that went out.
Every step goes through the public interfaces only (the API, the emulator's checkout, the SMTP
sink's inbox), printing as it happens."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
from paycore.auth.tokens import Scope, mint_token

# Where the walk finds things; the end-to-end test points these at its own ports.
DEFAULT_URLS = {
    "API_URL": "http://127.0.0.1:8000/api/v1",
    "WEB_URL": "http://127.0.0.1:8080",
    "EMULATOR_URL": "http://127.0.0.1:8090",
    "INBOX_URL": "http://127.0.0.1:8025/messages",
}


def step(text: str) -> None:
    print(f"  -> {text}", flush=True)


def data(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise SystemExit(
            f"{response.request.method} {response.request.url}: "
            f"{response.status_code} {response.text}"
        )
    body = response.json()
    return body.get("data", body) if isinstance(body, dict) else body


def wait_until(
    what: str, read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 60
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}; last: {value}")
        time.sleep(0.3)


def rupees(paise: int) -> str:
    return f"₹{paise / 100:,.2f}"


DEMO_USER = "usr_demo"
# The console's sign-in link carries a token this short-lived (seconds).
SIGN_IN_TTL_SECONDS = 30 * 60


def sample_links(env: dict[str, str]) -> dict[str, str]:
    """Prints the console's sign-in link (a short-lived development token in the URL's
    fragment, never sent to a server) and the pay link of a fresh unpaid sample invoice."""
    urls = {name: env.get(name, default) for name, default in DEFAULT_URLS.items()}
    token = mint_token(
        env["JWT_SECRET"],
        DEMO_USER,
        [Scope.READ, Scope.WRITE, Scope.REFUND],
        issuer="paycore",
        ttl_seconds=SIGN_IN_TTL_SECONDS,
    )
    api = httpx.Client(
        base_url=urls["API_URL"], headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    number = f"INV-SAMPLE-{uuid.uuid4().hex[:6].upper()}"
    invoice = data(
        api.post(
            "/invoices",
            json={
                "invoice_number": number,
                "issue_date": date.today().isoformat(),
                "due_date": (date.today() + timedelta(days=15)).isoformat(),
                "client": {"name": "Asha Rao", "email": "asha@example.com", "phone": "9876543210"},
                "items": [
                    {"description": "Logo design", "quantity": 1, "unit_price": 1_500_000},
                    {"description": "Brand guide", "quantity": 2, "unit_price": 275_050},
                ],
                "tax_rate": "18",
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    )
    links = {
        "console": f"{urls['WEB_URL']}/console/sign-in#token={token}",
        "pay": str(invoice.get("pay_url") or ""),
    }
    print(
        f"\nmerchant console (signs in as {DEMO_USER}; the link works for "
        f"{SIGN_IN_TTL_SECONDS // 60} minutes):\n  {links['console']}\n"
        f"a customer's pay link for the sample invoice {number} ({rupees(invoice['total'])}):\n"
        f"  {links['pay'] or '(pay links are off: set PAY_LINK_SECRET and INVOICE_PAY_URL)'}",
        flush=True,
    )
    return links


def walk(env: dict[str, str]) -> dict[str, Any]:
    print("\nwalking one invoice through payment and refunds:", flush=True)
    urls = {name: env.get(name, default) for name, default in DEFAULT_URLS.items()}
    user = DEMO_USER
    token = mint_token(
        env["JWT_SECRET"],
        user,
        [Scope.READ, Scope.WRITE, Scope.REFUND],
        issuer="paycore",
        ttl_seconds=3600,
    )
    api = httpx.Client(
        base_url=urls["API_URL"], headers={"Authorization": f"Bearer {token}"}, timeout=30
    )

    def post(path: str, body: dict[str, Any]) -> Any:
        return data(api.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())}))

    def reach(kind: str, path: str, status: str) -> Any:
        """Waits until the payment or invoice at `path` has `status` (the webhook and the
        refund-worker get it there); says so."""
        found = wait_until(
            f"the {kind} to be {status}",
            lambda: data(api.get(path)),
            lambda current: current["status"] == status,
        )
        step(f"{kind} {path.rsplit('/', 1)[1]}: {found['status']}")
        return found

    number = f"INV-DEMO-{uuid.uuid4().hex[:6].upper()}"
    invoice = post(
        "/invoices",
        {
            "invoice_number": number,
            "issue_date": date.today().isoformat(),
            "due_date": (date.today() + timedelta(days=15)).isoformat(),
            "client": {"name": "Asha Rao", "email": "asha@example.com", "phone": "9876543210"},
            "items": [{"description": "Design work", "quantity": 2, "unit_price": 50_000}],
            "tax_rate": "18",
        },
    )
    total = invoice["total"]
    step(f"invoice {number} created: total {rupees(total)} ({invoice['status']})")

    payment = post(f"/invoices/{number}/pay", {})
    payment_id = payment["payment_id"]

    step(
        f"payment {payment_id} created for order {payment['order_id']}: {payment['status']}, "
        f"checkout {payment.get('checkout_url')}"
    )

    data(
        httpx.post(
            f"{urls['EMULATOR_URL']}/_emulator/checkout/{payment['payment_session_id']}",
            json={"outcome": "SUCCESS", "payment_method": "upi"},
            timeout=30,
        )
    )
    step("customer paid by UPI on the emulator's checkout; Cashfree sends the signed webhook")

    reach("payment", f"/payments/{payment_id}", "SUCCESS")
    reach("invoice", f"/invoices/{number}", "PAID")

    for amount in (total * 40 // 100, None):
        body: dict[str, Any] = {"payment_id": payment_id, "reason": "demo refund"}
        if amount is not None:
            body["amount"] = amount
        refund = post("/refunds/initiate", body)
        step(
            f"refund {refund['refund_id']} of {rupees(refund['amount'])} requested: "
            f"{refund['status']}"
        )
        done = wait_until(
            "the refund to finish",
            lambda r=refund: data(api.get(f"/refunds/{r['refund_id']}")),
            lambda r: r["status"] in ("SUCCESS", "FAILED", "CANCELLED"),
        )
        step(f"refund {done['refund_id']}: {done['status']} at Cashfree")

    final = reach("payment", f"/payments/{payment_id}", "REFUNDED")
    invoice = reach("invoice", f"/invoices/{number}", "REFUNDED")

    messages = wait_until(
        "the emails",
        lambda: httpx.get(urls["INBOX_URL"], timeout=10).json(),
        lambda m: len(_messages(m)) >= 4,
        timeout=30,
    )
    for message in _messages(messages):
        step(
            f"email to {', '.join(message.get('to') or message.get('rcpt_tos') or [])}: "
            f"{message.get('subject')}"
        )
    print("walk done.", flush=True)
    return {"payment": final, "invoice": invoice, "emails": _messages(messages)}


def _messages(listing: Any) -> list[dict[str, Any]]:
    if isinstance(listing, dict):
        listing = listing.get("messages", listing.get("data", []))
    return list(listing)
