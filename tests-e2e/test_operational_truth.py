"""Operational truth, proven by a running system: the six services as processes with the
Cashfree emulator and the SMTP sink, driven through a paid payment refunded in two parts and
settled, a failed payment, gateway errors, rejected webhooks, a dead-lettered email, refund
and webhook (its payment then applied by the janitor's re-check), a reconciliation run that
finds a payment made at Cashfree outside paycore, and the webhook-ingress losing its broker and
then its database (each cut for that service alone, by a relay between it and the shared
server). Then every service's
/metrics is scraped, and

- every series and label value an alert rule, a recording rule or a dashboard panel uses is in
  the scrape (`infra/checks/observability.py`), none excused,
- the promtool unit tests feed only label values the scrape has,
- every paycore metric in the scrape is in the catalog (docs/metrics.md),
- each dead-lettered message shows in its queue's dead-letter gauge,
- the audit log of the paid payment's whole life shows every change, and the operator command
  verifies every chain.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx
import pytest
from demo import walk
from e2e_support import (
    EMULATOR,
    ROOT,
    SERVICES,
    SMTP_SINK,
    CuttableLink,
    ServiceProcess,
    ingress_url,
    start_system,
    system_env,
    system_ports,
)
from observability import (
    Scrape,
    catalog_metrics,
    check_rule_tests_against_scrape,
    check_selectors_against_scrape,
    parse_scrape,
    rule_and_panel_selectors,
)
from paycore.auth.tokens import Scope, mint_token
from paycore.kit.service import InfraSettings
from paycore.testing import run_module, signed_webhook_headers
from pymongo import MongoClient

# One scenario through six services, the emulator and the sink, with retries through the delay
# queues, two outages of the ingress and the janitor's first re-check (a minute after a payment
# is created): 1 min 55 s to 3 min 15 s measured on this shared 2-core machine.
pytestmark = pytest.mark.timeout(300)

DEAD_LETTER_TARGETS = {
    # service: (exchange, routing key, dead-letter queue as labelled)
    "email-worker": ("email.exchange", "email.payment.success", "email-worker.emails.dlq"),
    "refund-worker": ("refund.exchange", "refund.initiated", "refund-worker.refunds.dlq"),
    "webhook-processor": (
        "webhook.exchange",
        "webhook.cashfree.received",
        "webhook-processor.webhooks.dlq",
    ),
}


def eventually(what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


LAST_SCRAPE = ROOT / "tests-e2e" / ".last-scrape.json"


def scrape(services: dict[str, ServiceProcess]) -> Scrape:
    texts = {
        name: httpx.get(f"{service.url}/metrics", timeout=10).text
        for name, service in services.items()
    }
    LAST_SCRAPE.write_text(json.dumps(texts))  # kept for a reader of a failure
    return parse_scrape(texts)


async def publish_malformed(env: dict[str, str]) -> None:
    """One message no consumer can read into each consumer queue: each is dead-lettered."""
    connection = await aio_pika.connect_robust(env["RABBITMQ_URL"])
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for exchange_name, routing_key, _ in DEAD_LETTER_TARGETS.values():
            exchange = await channel.get_exchange(env["BROKER_PREFIX"] + exchange_name)
            await exchange.publish(
                aio_pika.Message(b"not an event envelope", message_id=uuid.uuid4().hex),
                routing_key=routing_key,
            )


@pytest.fixture
def system(tmp_path: Path, service_runner: list[ServiceProcess]) -> Iterator[dict[str, Any]]:
    ports = system_ports()
    env = system_env(
        ports,
        REFUND_POLL_AFTER_SECONDS="2",
        REFUND_POLL_INTERVAL_SECONDS="0.5",
        QUEUE_REPORT_SECONDS="1",
        INVARIANTS_INTERVAL_SECONDS="1",
        AUDIT_VERIFY_INTERVAL_SECONDS="2",
        FRAUD_REVIEW_PER_USER="3",
        FRAUD_BLOCK_PER_USER="4",
        # Webhooks are confirmed with Cashfree (get_payment) before they are applied.
        WEBHOOK_CONFIRM_WITH_GATEWAY="true",
        # An operator's run asked for through the admin API is taken within a second, and the
        # janitor re-checks each payment when it is due (a minute after it was created).
        RECONCILE_INTERVAL_SECONDS="1",
        JANITOR_INTERVAL_SECONDS="1",
    )
    # The servers' addresses as the services see them (their settings' defaults, or the env's).
    infra = InfraSettings()
    env.setdefault("RABBITMQ_URL", infra.rabbitmq_url)
    env.setdefault("MONGO_URI", infra.mongo_uri)
    # The ingress reaches RabbitMQ and MongoDB through relays the test can cut: an outage of
    # either as the ingress alone sees it (everyone else keeps the shared servers).
    links = {
        "broker": CuttableLink(*_host_port(env["RABBITMQ_URL"], 5672)),
        "database": CuttableLink(*_host_port(env["MONGO_URI"], 27017)),
    }
    ingress_env = {
        **env,
        "RABBITMQ_URL": links["broker"].url(env["RABBITMQ_URL"]),
        "MONGO_URI": links["database"].url(env["MONGO_URI"]),
    }
    try:
        system = start_system(
            env, ports, tmp_path, service_runner, own_env={"webhook-ingress": ingress_env}
        )
        yield {
            "env": env,
            "emulator": system[EMULATOR],
            "sink": system[SMTP_SINK],
            "services": {name: system[name] for name in SERVICES},
            "ingress": ingress_url(ports),
            "links": links,
        }
    finally:
        for link in links.values():
            link.close()


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def signed(env: dict[str, str], body: bytes, timestamp_ms: int | None = None) -> dict[str, str]:
    """The headers Cashfree sends with `body`."""
    secret = env["CASHFREE_WEBHOOK_SECRET"].split(",")[0].encode()
    return signed_webhook_headers(body, secret, timestamp_ms)


def api_client(env: dict[str, str], api_url: str, user_id: str, *scopes: Scope) -> httpx.Client:
    """The payments-api as `user_id` with `scopes` (a ten-minute token)."""
    token = mint_token(env["JWT_SECRET"], user_id, list(scopes), issuer="paycore", ttl_seconds=600)
    return httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def pay_at_checkout(
    emulator: ServiceProcess, session_id: str, outcome: str, method: str, **details: str
) -> None:
    """The customer's attempt on the session at the emulator's checkout."""
    httpx.post(
        f"{emulator.url}/_emulator/checkout/{session_id}",
        json={"outcome": outcome, "payment_method": method, **details},
        timeout=30,
    ).raise_for_status()


def settle_at_gateway(emulator: ServiceProcess, order_id: str) -> None:
    """Cashfree settles the order's payment (its reconciliation report lists it from then on)."""
    httpx.post(
        f"{emulator.url}/_emulator/orders/{order_id}/settle",
        json={"status": "SUCCESS"},
        timeout=10,
    ).raise_for_status()


def test_every_alert_panel_and_audit_record_is_backed_by_the_running_system(
    system: dict[str, Any],
) -> None:
    env: dict[str, str] = system["env"]
    emulator: ServiceProcess = system["emulator"]
    services: dict[str, ServiceProcess] = system["services"]
    links: dict[str, CuttableLink] = system["links"]
    api_url = f"{services['payments-api'].url}/api/v1"
    began = datetime.now(UTC) - timedelta(minutes=1)

    # 1. Paid, refunded in two parts (the refunds finish by Cashfree's webhooks), then settled.
    result = walk(
        {
            **env,
            "API_URL": api_url,
            "EMULATOR_URL": emulator.url,
            "INBOX_URL": f"{system['sink'].url}/messages",
        }
    )
    paid = result["payment"]
    assert paid["status"] == "REFUNDED"
    settle_at_gateway(emulator, paid["order_id"])

    # 2. The SMTP relay goes away: the emails from here on fail, are retried, and dead-lettered.
    system["sink"].stop()

    # 3. Cashfree failing: create_order answers 500 until our retries run out (the API
    # answers 5xx), then once more and the retry succeeds; that payment then fails.
    api = api_client(env, api_url, "usr_ops", Scope.READ, Scope.WRITE)

    def create_payment(user: httpx.Client = api) -> httpx.Response:
        return user.post(
            "/payments/create",
            json={
                "amount": 25_000,
                "customer": {"name": "Ravi", "email": "ravi@example.com", "phone": "9876500000"},
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )

    def new_payment() -> dict[str, Any]:
        created = create_payment()
        assert created.status_code == 201, created.text
        return created.json()["data"]

    faults = f"{emulator.url}/_emulator/faults"
    httpx.post(
        faults, json={"kind": "api_500", "operation": "create_order", "count": 10}
    ).raise_for_status()
    assert create_payment().status_code >= 500
    httpx.delete(faults).raise_for_status()
    httpx.post(faults, json={"kind": "api_500", "operation": "create_order"}).raise_for_status()
    failing = new_payment()
    pay_at_checkout(
        emulator,
        failing["payment_session_id"],
        "FAILED",
        "card",
        failure_reason="INSUFFICIENT_FUNDS",
    )
    # A failed attempt leaves the order payable; the customer gives up and it expires at
    # Cashfree: verifying the payment closes it.
    httpx.post(
        f"{emulator.url}/_emulator/orders/{failing['order_id']}/expire", timeout=10
    ).raise_for_status()
    verified = api.post("/payments/verify", json={"payment_id": failing["payment_id"]})
    assert verified.status_code == 200, verified.text
    assert verified.json()["data"]["status"] == "EXPIRED"

    # 4. A burst of payments from one user: fraud screening blocks the fifth.
    burst = api_client(env, api_url, "usr_burst", Scope.READ, Scope.WRITE)
    answers = [create_payment(burst) for _ in range(5)]
    assert answers[-1].status_code in (403, 422), answers[-1].text
    assert answers[-1].json()["error"]["code"] == "fraud_blocked"

    # Cashfree cannot confirm a paid webhook (get_payment fails): the webhook is retried,
    # then dead-lettered. The payment is delayed, not lost: the janitor's re-check applies it
    # from Cashfree's record (checked at the end, when it is due).
    httpx.post(
        faults, json={"kind": "api_500", "operation": "get_payment", "count": 1000}
    ).raise_for_status()
    late = new_payment()
    pay_at_checkout(emulator, late["payment_session_id"], "SUCCESS", "netbanking")

    def webhook_dead_lettered() -> bool:
        return bool(
            scrape(services).counted("paycore_webhooks_dead_lettered_total", reason="exhausted")
        )

    eventually("the unconfirmed webhook to be dead-lettered", webhook_dead_lettered)
    httpx.delete(faults).raise_for_status()

    # A payment made at Cashfree outside paycore (an order someone created with our
    # credentials), settled: an operator's reconciliation run, asked for through the admin
    # API, finds it (MISSING_HERE).
    stranger = httpx.post(
        f"{emulator.url}/pg/orders",
        json={
            "order_id": f"ord_elsewhere_{uuid.uuid4().hex[:12]}",
            "order_amount": 99.0,
            "order_currency": "INR",
            "customer_details": {"customer_id": "walk_in_1", "customer_phone": "9876500001"},
        },
        headers={
            "x-client-id": env["CASHFREE_APP_ID"],
            "x-client-secret": env["CASHFREE_SECRET_KEY"],
            "x-api-version": "2025-01-01",
        },
        timeout=30,
    )
    assert stranger.status_code == 200, stranger.text
    pay_at_checkout(emulator, stranger.json()["payment_session_id"], "SUCCESS", "upi")
    # Settled: Cashfree's reconciliation report lists settled payments.
    settle_at_gateway(emulator, stranger.json()["order_id"])
    admin = api_client(env, api_url, "usr_admin", Scope.READ, Scope.ADMIN)
    asked = admin.post(
        "/admin/reconciliation/runs",
        json={"start": began.isoformat(), "end": datetime.now(UTC).isoformat()},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert asked.status_code == 202, asked.text
    run_id = asked.json()["data"]["run_id"]

    def run_finished() -> list[dict[str, Any]] | None:
        runs = admin.get("/admin/reconciliation", params={"limit": "50"}).json()["data"]
        run = next((r for r in runs["runs"] if r["run_id"] == run_id), None)
        if run is None or run["status"] in ("REQUESTED", "RUNNING"):
            return None
        assert run["status"] == "DONE", run
        return [item for item in runs["items"] if item["run_id"] == run_id] or [{"kind": None}]

    items = eventually("the reconciliation run asked for", run_finished, timeout=60)
    missing = [item["order_id"] for item in items if item["kind"] == "MISSING_HERE"]
    assert missing == [stranger.json()["order_id"]], items

    # 5. A forged signature (refused), and a signed webhook an hour old (kept, to be confirmed
    # with the gateway: Cashfree's retries can be that late).
    body = json.dumps({"type": "PAYMENT_SUCCESS_WEBHOOK", "data": {}}).encode()
    forged = {**signed(env, body), "x-webhook-signature": "Zm9yZ2Vk"}
    hour_old = signed(env, body, int(time.time() * 1000) - 3_600_000)
    for headers, expected in ((forged, 401), (hour_old, 200)):
        answer = httpx.post(system["ingress"], content=body, headers=headers)
        assert answer.status_code == expected, answer.text

    # 6. The ingress loses its broker: a paid webhook is stored and answered 200, its publish
    # fails (an outbox failure, counted by the ingress), and the outbox sweep publishes it. The
    # sweep of webhook logs runs in whichever process holds its lock: the ingress (once its
    # broker is back) or the webhook-processor (which relays this collection too, at once).
    links["broker"].cut()
    stored_first = new_payment()
    pay_at_checkout(emulator, stored_first["payment_session_id"], "SUCCESS", "upi")

    def outbox_failed() -> bool:
        failures = scrape(services).value(
            "webhook-ingress", "paycore_outbox_failures_total", collection="webhook_logs"
        )
        return (failures or 0) >= 1

    eventually("the ingress's outbox to fail a publish", outbox_failed)
    links["broker"].restore()

    def applied() -> bool:
        answer = api.get(f"/payments/{stored_first['payment_id']}")
        return bool(answer.json()["data"]["status"] == "SUCCESS")

    eventually("the stored webhook to be published and applied", applied, timeout=60)

    # Then its database: a webhook it cannot store is answered 503 (result="error"), and
    # Cashfree's next delivery of it, once the database is back, is stored.
    links["database"].cut()
    body = json.dumps(
        {"type": "PAYMENT_SUCCESS_WEBHOOK", "data": {"nonce": uuid.uuid4().hex}}
    ).encode()
    refused = httpx.post(system["ingress"], content=body, headers=signed(env, body), timeout=30)
    assert refused.status_code == 503, refused.text
    links["database"].restore()

    def redelivered() -> bool:
        answer = httpx.post(system["ingress"], content=body, headers=signed(env, body), timeout=30)
        return answer.status_code == 200

    eventually("the webhook to be stored once the database is back", redelivered)

    # 7. A message each consumer cannot read: the email, refund and webhook dead-letter queues.
    asyncio.run(publish_malformed(env))

    def dead_lettered() -> Scrape | None:
        current = scrape(services)
        depths = {
            queue: current.value(service, "paycore_dead_letter_messages", queue=queue)
            for service, (_, _, queue) in DEAD_LETTER_TARGETS.items()
        }
        return current if all((depth or 0) >= 1 for depth in depths.values()) else None

    eventually("a dead letter in each queue's gauge", dead_lettered)

    def complete() -> Scrape | None:
        # The reconciler's jobs have run, the refunds' durations are observed.
        current = scrape(services)
        if current.value("reconciler", "paycore_audit_records_verified") in (None, 0):
            return None
        for name, labels in (
            ("paycore_refund_duration_seconds_count", {"outcome": "SUCCESS"}),
            (
                "paycore_dead_lettered_total",
                {"queue": "email-worker.emails", "reason": "exhausted"},
            ),
            ("paycore_webhooks_dead_lettered_total", {"reason": "exhausted"}),
            # The janitor applied the payment whose webhook was dead-lettered.
            ("paycore_janitor_transitions_total", {"status": "SUCCESS"}),
        ):
            if not current.counted(name, **labels):
                return None
        return current

    # The janitor's first re-check of a payment is a minute after it was created.
    final = eventually("every job reported", complete, timeout=120)
    applied_late = api.get(f"/payments/{late['payment_id']}").json()["data"]
    assert applied_late["status"] == "SUCCESS", applied_late

    # The proofs: every value the rules, panels and promtool tests use, none excused.
    assert check_selectors_against_scrape(rule_and_panel_selectors(), final) == []
    assert check_rule_tests_against_scrape(final) == []
    undocumented = sorted(final.metric_families() - catalog_metrics())
    assert undocumented == [], f"not in docs/metrics.md: {undocumented}"
    for name, labels in (
        ("paycore_payments_total", {"status": "success", "method": "upi"}),
        ("paycore_payments_total", {"status": "success", "method": "netbanking"}),
        ("paycore_payment_attempts_total", {"outcome": "failed", "method": "card"}),
        ("paycore_payment_attempts_total", {"outcome": "succeeded", "method": "upi"}),
        ("paycore_payments_total", {"status": "expired"}),
        ("paycore_gateway_calls_total", {"outcome": "gateway_server_error"}),
        ("paycore_gateway_calls_total", {"outcome": "ok"}),
        ("paycore_refund_duration_seconds_count", {"outcome": "SUCCESS"}),
        ("paycore_reconciliation_mismatches_total", {"kind": "MISSING_HERE"}),
        ("paycore_janitor_transitions_total", {"status": "SUCCESS"}),
        ("paycore_outbox_failures_total", {"collection": "webhook_logs"}),
        ("paycore_webhooks_received_total", {"result": "error"}),
    ):
        assert final.counted(name, **labels), (name, labels)

    # The audit log of the paid payment's whole life, and of its refunds.
    client: MongoClient[dict[str, Any]] = MongoClient(env["MONGO_URI"])
    database = client[env["MONGO_DB"]]
    try:
        records = list(
            database["audit_logs"].find({"resource_id": paid["payment_id"]}).sort("seq", 1)
        )
        actions = [record["action"] for record in records]
        assert actions[0] == "payment.pending", actions
        assert "payment.create" in actions
        success = records[actions.index("payment.success")]
        assert success["evidence"]["source"] == "webhook"
        assert success["before"]["status"] == "PENDING"
        assert actions.count("payment.refund_reserved") == 2
        assert "payment.partially_refunded" in actions
        assert "payment.refunded" in actions
        settled = [r for r in records if "settlement" in (r.get("after") or {})]
        assert settled, actions
        creator = records[actions.index("payment.create")]
        assert creator["actor"]["kind"] == "user"
        assert creator["request_id"]
        refunds = {
            r["resource_id"] for r in database["audit_logs"].find({"resource_type": "refund"})
        }
        assert len(refunds) == 2
        for refund_id in refunds:
            refund_actions = [
                r["action"]
                for r in database["audit_logs"].find({"resource_id": refund_id}).sort("seq", 1)
            ]
            # The request's own record can land after the worker's first move.
            assert "refund.initiate" in refund_actions, refund_actions
            assert "refund.processing" in refund_actions, refund_actions
            assert refund_actions[-1] == "refund.success", refund_actions
        invoice_actions = [
            r["action"] for r in database["audit_logs"].find({"resource_type": "invoice"})
        ]
        assert "invoice.paid" in invoice_actions
        assert "invoice.refunded" in invoice_actions
    finally:
        client.close()
    assert "0 chain(s) broken" in run_module("reconciler.audit", "verify", env=env)

    for process in services.values():
        assert process.stop() == 0, process.log.read_text()[-2000:]
