"""The chaos suite's stack: the six services, the Cashfree emulator and the SMTP sink as real
processes on one isolated database, queue prefix and Redis prefix, plus what the scenarios do
to it (SIGKILL a worker, stop a server) and what they count afterwards.

Counting is from the outside: the payments and refunds through the API, the money movements at
the emulator (every create-refund call it acted on), the ledger in the database (each payment's
history), and the emails in the SMTP sink by Message-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cashfree_emulator.control import EmulatorControl
from e2e_support import SYSTEM, ServiceProcess, start_member, system_env, system_ports
from paycore import testing
from paycore.auth.tokens import Scope, mint_token
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
OUTAGE = ROOT / "infra/local/outage.sh"
BUYER = "chaos-buyer@example.com"
# A work queue holding this many ready messages is overloaded (production: 1000, as
# PaycoreQueueBacklog). The flood scenario's 40 webhooks leave ~28 ready: the frozen processor
# holds its prefetch (16) unacknowledged, which the ready count does not include.
QUEUE_OVERLOAD_MESSAGES = 20


async def _outage(server: str, action: str) -> None:
    """Stops or starts a local server (infra/local/outage.sh)."""
    process = await asyncio.create_subprocess_exec(
        str(OUTAGE), server, action, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await process.communicate()
    assert process.returncode == 0, f"outage.sh {server} {action}: {err.decode()[-500:]}"


@contextlib.asynccontextmanager
async def server_down(server: str) -> AsyncIterator[None]:
    """A local server (`mongodb`, `rabbitmq`, `redis`) stopped for the block, and always
    started again: every process on the machine shares it."""
    await _outage(server, "stop")
    try:
        yield
    finally:
        await _outage(server, "start")


# The shared wait with the scenarios' longer defaults: processes restart, servers come back.
eventually = functools.partial(testing.eventually, timeout=60, interval=0.3)


def buyers(count: int) -> list[str]:
    """Customer addresses of one scenario: each payment's email is told apart by recipient."""
    run = uuid.uuid4().hex[:8]
    return [f"chaos-{run}-{i}@example.com" for i in range(count)]


def successes(payment: dict[str, Any]) -> int:
    """Transitions to SUCCESS the payment's history applied (not the ignored repeats)."""
    return sum(
        1
        for record in payment.get("history", [])
        if record.get("to_status") == "SUCCESS" and not record.get("ignored")
    )


@dataclass
class Report:
    """One scenario's counts, printed as a row of the closing note's table."""

    scenario: str
    counts: dict[str, Any] = field(default_factory=dict)

    def print(self) -> None:
        row = ", ".join(f"{name}={value}" for name, value in self.counts.items())
        print(f"\nCHAOS {self.scenario}: {row}", flush=True)


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    ports: dict[str, int]
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    restarts: Counter[str] = field(default_factory=Counter)
    # What the SMTP sink held before it was stopped (its inbox lives in its memory).
    delivered_before: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def create(cls, tmp: Path, **overrides: str) -> Stack:
        ports = system_ports()
        env = system_env(
            ports,
            SMTP_TIMEOUT_SECONDS="5",
            EMAIL_CLAIM_SECONDS="10",
            CASHFREE_TIMEOUT_SECONDS="3",
            REFUND_POLL_AFTER_SECONDS="1",
            REFUND_POLL_INTERVAL_SECONDS="0.5",
            REFUND_LOCK_SECONDS="5",
            RETRY_DELAYS_MS="[500, 1000, 2000, 4000, 8000]",
            RATE_LIMIT_USER_PER_MINUTE="100000",
            RATE_LIMIT_IP_PER_MINUTE="100000",
            FRAUD_REVIEW_PER_USER="100000",
            FRAUD_BLOCK_PER_USER="100000",
            FRAUD_REVIEW_PER_IP="100000",
            FRAUD_BLOCK_PER_IP="100000",
            FRAUD_REVIEW_PER_EMAIL="100000",
            FRAUD_BLOCK_PER_EMAIL="100000",
            FRAUD_REVIEW_PER_DEVICE="100000",
            FRAUD_BLOCK_PER_DEVICE="100000",
            # The queue-overload admin alert and the queue gauges, scaled to the flood scenario.
            QUEUE_OVERLOAD_MESSAGES=str(QUEUE_OVERLOAD_MESSAGES),
            QUEUE_REPORT_SECONDS="1",
            **overrides,
        )
        return cls(tmp, env, ports)

    # Processes

    def start(self, name: str) -> ServiceProcess:
        log_dir = self.tmp / f"{name}-{self.restarts[name]}"
        log_dir.mkdir(parents=True, exist_ok=True)
        # Cashfree's webhook redelivery schedule (2, 10, 30 min) shrunk to 1.2, 6, 18 s.
        scale = ("--webhook-retry-scale", "0.01")
        process = start_member(name, self.env, self.ports, log_dir, emulator_args=scale)
        self.processes[name] = process
        return process

    def start_all(self) -> None:
        for name in SYSTEM:
            self.start(name)
        for process in self.processes.values():
            process.wait_healthy(timeout=90)

    async def sigkill(self, name: str) -> None:
        process = self.processes[name].process
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)

    async def restart(self, name: str) -> None:
        self.restarts[name] += 1
        process = self.start(name)
        await asyncio.to_thread(process.wait_healthy, 90)

    def stop_all(self) -> dict[str, int]:
        codes = {}
        for name, process in reversed(self.processes.items()):
            if process.process.poll() is None:
                process.process.terminate()
            try:
                codes[name] = process.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.process.kill()
                codes[name] = process.process.wait()
        return codes

    # Clients

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def api(self) -> httpx.AsyncClient:
        token = mint_token(
            self.env["JWT_SECRET"],
            "chaos-merchant",
            [Scope.READ, Scope.WRITE, Scope.REFUND],
            issuer="paycore",
            ttl_seconds=3600,
        )
        return httpx.AsyncClient(
            base_url=self.url("payments-api") + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def emulator(self) -> EmulatorControl:
        return EmulatorControl(self.url("emulator"))

    def mongo(self) -> AsyncMongoClient[dict[str, Any]]:
        uri = self.env.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
        return AsyncMongoClient(uri, serverSelectionTimeoutMS=30_000)

    @property
    def db_name(self) -> str:
        return self.env["MONGO_DB"]

    # Money

    async def create_payment(
        self, api: httpx.AsyncClient, amount: int = 10_000, email: str = BUYER
    ) -> dict[str, Any]:
        """A PENDING payment with a customer email; retried through 503s with its key."""
        body = {"amount": amount, "customer": {"phone": "9876543210", "email": email}}
        key = str(uuid.uuid4())
        for _ in range(60):
            answer = await api.post("/payments/create", json=body, headers={"Idempotency-Key": key})
            if answer.status_code in (200, 201):
                data: dict[str, Any] = answer.json()["data"]
                return data
            assert answer.status_code in (409, 502, 503, 504), answer.text  # retried with its key
            await asyncio.sleep(0.5)
        raise AssertionError(f"payment not created: {answer.text}")

    async def request_refund(
        self, api: httpx.AsyncClient, payment_id: str, amount: int, key: str | None = None
    ) -> dict[str, Any]:
        """Requests a refund (the caller's Idempotency-Key, or a new one); retried through 503s."""
        body = {"payment_id": payment_id, "amount": amount, "reason": "chaos"}
        key = key or f"refund-{payment_id}-{amount}"
        for _ in range(60):
            answer = await api.post(
                "/refunds/initiate", json=body, headers={"Idempotency-Key": key}
            )
            if answer.status_code in (200, 201, 202):
                data: dict[str, Any] = answer.json()["data"]
                return data
            assert answer.status_code in (409, 502, 503, 504), answer.text  # retried with its key
            await asyncio.sleep(0.5)
        raise AssertionError(f"refund not requested: {answer.text}")

    async def payments(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        async with self.mongo() as client:
            cursor = client[self.db_name]["payments"].find({"_id": {"$in": ids}})
            return {doc["_id"]: doc async for doc in cursor}

    async def all_succeeded(self, ids: list[str], timeout: float = 90) -> None:
        async def succeeded() -> bool:
            found = await self.payments(ids)
            return len(found) == len(ids) and all(
                doc["status"] in ("SUCCESS", "PARTIALLY_REFUNDED", "REFUNDED")
                for doc in found.values()
            )

        await eventually(succeeded, timeout=timeout, interval=1)

    async def payment_counts(self, ids: list[str]) -> dict[str, int]:
        """Lost: not SUCCESS. Doubled: captured twice, or more than one SUCCESS transition."""
        found = await self.payments(ids)
        lost = sum(
            1
            for pid in ids
            if found.get(pid, {}).get("status") not in ("SUCCESS", "PARTIALLY_REFUNDED", "REFUNDED")
        )
        doubled = sum(
            1
            for doc in found.values()
            if doc.get("captured_amount", 0) > doc["amount"] or successes(doc) > 1
        )
        return {"payments": len(ids), "lost": lost, "doubled": doubled}

    async def pay_all(self, payments: list[dict[str, Any]]) -> None:
        async with self.emulator() as emu:
            for payment in payments:
                await emu.pay(payment["payment_session_id"], "SUCCESS")

    async def emails(self) -> list[dict[str, Any]]:
        """Every message the SMTP sink holds: `to`, `subject`, `message_id`, ..."""
        async with httpx.AsyncClient(timeout=10) as client:
            listing = (await client.get(self.url("inbox") + "/messages")).json()
        messages = listing.get("messages", listing) if isinstance(listing, dict) else listing
        return self.delivered_before + list(messages)

    async def stop_smtp(self) -> None:
        self.delivered_before = await self.emails()
        await self.sigkill("smtp-sink")

    async def flush_redis(self) -> None:
        """Deletes every key of this stack (its prefix), as a Redis failover would lose them."""
        client = Redis.from_url(self.env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        async with client:
            keys = [key async for key in client.scan_iter(match=self.env["REDIS_PREFIX"] + "*")]
            if keys:
                await client.delete(*keys)

    async def all_refunds_succeeded(
        self, api: httpx.AsyncClient, refund_ids: list[str], timeout: float = 90
    ) -> None:
        async def succeeded() -> bool:
            for refund_id in refund_ids:
                answer = await api.get(f"/refunds/{refund_id}")
                if answer.status_code != 200 or answer.json()["data"]["status"] != "SUCCESS":
                    return False
            return True

        await eventually(succeeded, timeout=timeout, interval=1)

    async def email_counts(self, recipients: list[str], timeout: float = 60) -> dict[str, int]:
        """Lost: a recipient without its email once `timeout` passed. Doubled: copies of one
        Message-ID beyond the first (the same email delivered twice)."""
        wanted = set(recipients)

        async def all_delivered() -> bool:
            got = {to for m in await self.emails() for to in m["to"]}
            return wanted <= got

        with contextlib.suppress(AssertionError):
            await eventually(all_delivered, timeout=timeout, interval=1)
        mine = [m for m in await self.emails() if set(m["to"]) & wanted]
        copies = Counter(str(m["message_id"]) for m in mine)
        got = {to for m in mine for to in m["to"]}
        return {
            "emails": len(wanted),
            "emails_lost": len(wanted - got),
            "emails_doubled": sum(n - 1 for n in copies.values()),
        }

    async def gateway_refunds(self, order_ids: list[str]) -> dict[str, int]:
        """Refunds the emulator holds per order: what Cashfree would have paid back."""
        headers = {
            "x-client-id": self.env["CASHFREE_APP_ID"],
            "x-client-secret": self.env["CASHFREE_SECRET_KEY"],
            "x-api-version": "2025-01-01",
        }
        made = {}
        async with httpx.AsyncClient(base_url=self.url("emulator") + "/pg", timeout=10) as client:
            for order in order_ids:
                answer = await client.get(f"/orders/{order}/refunds", headers=headers)
                assert answer.status_code == 200, answer.text
                made[order] = len(answer.json())
        return made
