"""The web pages in a real browser (headless Chromium driven by Playwright) against the system
as processes: the emulator, payments-api, refund-worker and the web pages.

A merchant creates an invoice in the console; the customer, on a phone-sized screen, opens its
pay link, pays on the emulator's checkout and comes back to a verified success; the console
shows the invoice PAID, then a partial refund and the rest, each followed live to the end, and
the customer's page says refunded. Another invoice's first attempt fails; the retry pays.
Screenshots of each page go to var/test-artifacts/web/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from demo import sample_links  # infra/local/demo.py: what `make run` prints
from e2e_support import ROOT, ServiceProcess, free_port, isolated_env, start_service
from paycore.auth.tokens import Scope, mint_token
from payments_api_testing import new_key, new_user
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)

CHROMIUM = "/usr/bin/chromium"
# Playwright cannot download a browser here: it drives Debian's chromium (`make test` installs
# it), with what a headless run in a container needs and nothing that phones home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "var" / "test-artifacts" / "web"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 900}
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.timeout(240)
expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class System:
    web: str
    api: str
    emulator: str
    env: dict[str, str]

    def token(self, user: str) -> str:
        scopes = [Scope.READ, Scope.WRITE, Scope.REFUND]
        return mint_token(self.env["JWT_SECRET"], user, scopes, issuer="paycore")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    logs = tmp_path_factory.mktemp("browser-logs")
    ports = {name: free_port() for name in ("emulator", "payments-api", "refund-worker", "web")}
    web = f"http://127.0.0.1:{ports['web']}"
    emulator_url = f"http://127.0.0.1:{ports['emulator']}"
    env = isolated_env(
        CASHFREE_BASE_URL=f"{emulator_url}/pg",
        CHECKOUT_BASE_URL=f"{emulator_url}/checkout/",
        CHECKOUT_ORIGINS=emulator_url,
        INVOICE_PAY_URL=f"{web}/pay/{{pay_token}}",
        WEB_PUBLIC_URL=web,
        PAYMENTS_API_URL=f"http://127.0.0.1:{ports['payments-api']}",
        REFUND_POLL_AFTER_SECONDS="0.5",
        REFUND_POLL_INTERVAL_SECONDS="0.3",
    )
    started = [
        start_service(
            "cashfree-emulator",
            env,
            logs,
            ports["emulator"],
            module="cashfree_emulator",
            args=("--port", str(ports["emulator"]), "--refund-delay-seconds", "0.3"),
            health="/_emulator/health",
        ),
        start_service("payments-api", env, logs, ports["payments-api"]),
        start_service("refund-worker", env, logs, ports["refund-worker"]),
        start_service("web", env, logs, ports["web"], module="paycore_web"),
    ]
    try:
        for process in started:
            process.wait_healthy(timeout=60)
        yield System(web, f"http://127.0.0.1:{ports['payments-api']}/api/v1", emulator_url, env)
    finally:
        _stop(started)


def _stop(started: list[ServiceProcess]) -> None:
    for process in reversed(started):
        if process.process.poll() is None:
            process.process.terminate()
    for process in started:
        try:
            process.process.wait(timeout=20)
        except Exception:
            process.process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def context(browser: Browser, viewport: dict[str, int]) -> BrowserContext:
    created = browser.new_context(viewport=viewport, locale="en-IN")
    created.set_default_timeout(TIMEOUT_MS)
    return created


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def console_errors(page: Page, origin: str) -> list[str]:
    """Collects the console errors of our pages (a CSP violation or a failed fetch would show
    up here); the emulator's checkout page is not ours."""
    errors: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if message.type == "error" and page.url.startswith(origin):
            errors.append(f"{page.url}: {message.text}")

    page.on("console", seen)
    return errors


UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((el) => el.type !== "hidden" && !el.hidden)
  .filter((el) => (el.labels ? el.labels.length === 0 : true) && !el.textContent.trim()
                  && !el.getAttribute("aria-label"))
  .map((el) => el.name || el.id || el.outerHTML)"""


def assert_accessible(page: Page) -> None:
    """Every control has a label (or, for buttons, text), and the page has one h1."""
    assert page.evaluate(UNLABELLED) == []
    expect(page.locator("h1")).to_have_count(1)


def sign_in(page: Page, system: System, user: str) -> None:
    page.goto(f"{system.web}/console/sign-in#token={system.token(user)}")
    expect(page.get_by_label("Access token")).not_to_have_value("")  # filled from the link
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()


def create_invoice(page: Page, number: str, email: str) -> str:
    """Fills the console's new-invoice form; returns the pay link the invoice page shows."""
    page.get_by_role("link", name="New invoice").first.click()
    page.get_by_label("Invoice number").fill(number)
    page.get_by_label("Name").fill("Asha Rao")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Phone (optional)").fill("9876543210")
    page.get_by_label("Description 1").fill("Logo design")
    page.locator("#item_unit_price_1").fill("15000")
    page.get_by_label("Description 2").fill("Brand guide")
    page.locator("#item_quantity_2").fill("2")
    page.locator("#item_unit_price_2").fill("2750.50")
    assert_accessible(page)
    page.get_by_role("button", name="Create invoice").click()
    expect(page.get_by_role("heading", name=f"Invoice {number}")).to_be_visible()
    # 15 000 + 2 × 2 750.50 = 20 501.00; 18 % tax 3 690.18; total 24 191.18.
    expect(page.get_by_test_id("invoice-total")).to_have_text("₹24,191.18")
    return page.get_by_test_id("pay-link").input_value()


def checkout(page: Page, outcome: str) -> str:
    """On the emulator's checkout page: picks the outcome and submits; returns the order id."""
    expect(page.get_by_role("heading", name="Cashfree emulator checkout")).to_be_visible()
    order_id = page.locator("code").first.inner_text()
    page.get_by_label(outcome).check()
    page.get_by_role("button", name="Submit").click()
    return order_id


def test_invoice_paid_then_refunded_in_two_parts(browser: Browser, system: System) -> None:
    merchant = context(browser, DESKTOP).new_page()
    merchant_errors = console_errors(merchant, system.web)
    user = new_user()
    sign_in(merchant, system, user)
    number = "INV-WEB-" + new_key()[:6].upper()
    email = f"{new_key()[:8]}@example.com"
    pay_link = create_invoice(merchant, number, email)
    shot(merchant, "console-invoice")

    customer = context(browser, PHONE).new_page()
    customer_errors = console_errors(customer, system.web)
    customer.goto(pay_link)
    expect(customer.get_by_test_id("invoice-total")).to_have_text("₹24,191.18")
    expect(customer.get_by_text("due")).to_be_visible()
    assert customer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(customer)
    shot(customer, "pay-invoice")
    # By keyboard: the skip link first, then Pay Now is the page's first control.
    customer.keyboard.press("Tab")
    expect(customer.get_by_role("link", name="Skip to content")).to_be_focused()
    customer.keyboard.press("Tab")
    expect(customer.get_by_role("button", name=re.compile("^Pay Now"))).to_be_focused()
    customer.keyboard.press("Enter")
    checkout(customer, "Pay successfully")
    expect(customer.get_by_test_id("result")).to_have_text("Payment received")
    shot(customer, "pay-success")

    merchant.reload()
    expect(merchant.get_by_test_id("invoice-status")).to_have_text("paid")
    merchant.get_by_role("link", name="Invoices").click()
    merchant.get_by_label("Client email").fill(email)
    merchant.get_by_role("button", name="Search").click()
    expect(merchant.get_by_role("link", name=number)).to_be_visible()
    shot(merchant, "console-invoices")
    merchant.get_by_role("link", name=number).click()
    merchant.get_by_test_id("payment-link").click()
    expect(merchant.get_by_test_id("refundable")).to_have_text("₹24,191.18")
    assert_accessible(merchant)

    merchant.get_by_label("Amount (₹)").fill("5000")
    merchant.get_by_label("Reason (optional)").fill("discount")
    merchant.get_by_role("button", name="Refund").click()
    # Followed live: the badge changes by itself, then the page refreshes its figures.
    expect(merchant.get_by_test_id("refund-status")).to_have_text("success")
    expect(merchant.get_by_test_id("refundable")).to_have_text("₹19,191.18")
    expect(merchant.get_by_test_id("payment-status")).to_have_text("partially refunded")

    merchant.get_by_role("button", name="Refund").click()  # amount empty: all that is left
    expect(merchant.get_by_test_id("payment-status")).to_have_text("refunded")
    expect(merchant.get_by_test_id("refund-status")).to_have_text(["success", "success"])
    expect(merchant.get_by_test_id("refunded")).to_have_text("₹24,191.18")
    expect(merchant.get_by_role("button", name="Refund")).to_have_count(0)
    shot(merchant, "console-payment-refunded")

    customer.goto(pay_link)
    expect(customer.get_by_test_id("refund-note")).to_contain_text("₹24,191.18")
    shot(customer, "pay-refunded")
    assert merchant_errors == []
    assert customer_errors == []


def test_a_failed_attempt_then_the_retry_pays_the_same_order(
    browser: Browser, system: System
) -> None:
    user = new_user()
    invoice = issue(system, user)
    customer = context(browser, PHONE).new_page()
    errors = console_errors(customer, system.web)
    customer.goto(invoice["pay_url"])
    customer.get_by_role("button", name=re.compile("^Pay Now")).click()
    first_order = checkout(customer, "Fail the payment")
    expect(customer.get_by_test_id("result")).to_have_text("Payment failed")
    assert_accessible(customer)
    shot(customer, "pay-failed")
    customer.get_by_role("button", name=re.compile("^Try again")).click()
    second_order = checkout(customer, "Pay successfully")
    expect(customer.get_by_test_id("result")).to_have_text("Payment received")
    merchant = context(browser, DESKTOP).new_page()
    sign_in(merchant, system, user)
    merchant.goto(f"{system.web}/console/invoices/{invoice['invoice_number']}")
    expect(merchant.get_by_test_id("invoice-status")).to_have_text("paid")
    merchant.get_by_test_id("payment-link").click()
    expect(merchant.get_by_test_id("payment-status")).to_have_text("success")
    # The failed attempt left the order payable: the retry paid the same order, which is the
    # invoice's payment, with both attempts on it.
    assert second_order == first_order
    expect(merchant.get_by_test_id("order-id")).to_have_text(first_order)
    expect(merchant.get_by_test_id("attempt")).to_have_count(2)
    assert errors == []


def issue(system: System, user: str) -> dict[str, Any]:
    response = httpx.post(
        f"{system.api}/invoices",
        json={
            "invoice_number": "INV-WEB-" + new_key()[:6].upper(),
            "issue_date": "2026-11-01",
            "due_date": "2026-11-30",
            "client": {"name": "Ravi", "email": "ravi@example.com", "phone": "9123456780"},
            "items": [{"description": "Support", "quantity": 1, "unit_price": 99_900}],
            "tax_rate": "0",
        },
        headers={"authorization": f"Bearer {system.token(user)}", "idempotency-key": new_key()},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_the_links_make_run_prints_work_on_a_phone(browser: Browser, system: System) -> None:
    links = sample_links({**system.env, "API_URL": system.api, "WEB_URL": system.web})
    page = context(browser, PHONE).new_page()
    page.goto(links["console"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^INV-SAMPLE-"))).to_be_visible()
    # The console is usable at phone width too: wide tables scroll inside their box, the page
    # itself never scrolls sideways.
    for path in ("/console/invoices", "/console/invoices/new", "/console/payments"):
        page.goto(system.web + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    shot(page, "console-payments-phone")
    page.goto(links["pay"])
    expect(page.get_by_role("button", name=re.compile("^Pay Now"))).to_be_visible()
