"""The library floor of a create: a minimal Starlette app that makes exactly the round trips a
payments-api `POST /api/v1/payments/create` makes, with the same client libraries and options,
and nothing else (no validation, no models, no middleware, no logging, no metrics).

    BENCH_EMULATOR_URL=http://127.0.0.1:PORT MONGO_DB=... BROKER_PREFIX=... REDIS_PREFIX=... \
        uv run python bench/floor_app.py --port 8201

Its CPU per request is what PyMongo's async client, redis-py, httpx, FastStream/aio-pika,
Starlette and uvicorn cost for a create's round trips; the api's CPU per create above it is
ours. `bench/run.py` prints both lines and each one's round trips per request (the command
counters of `bench/instrumented.py`), so a floor that drifts from the create's shape shows.

`POST /create` (an `Idempotency-Key` header, a JSON body), in the create's order:

1. Redis: the rate limit (`RATE_LIMIT`: one EVALSHA, the sliding logs of the IP and the user);
2. Redis: the idempotency claim (SET NX EX);
3. Redis: the fraud screen (`FRAUD_ROUND_TRIP`: one EVALSHA of the same script, same keys);
4. MongoDB: insert the payment (a document of the stored payment's shape);
5. HTTP: the emulator's create-order (aiohttp, the gateway transport's options);
6. MongoDB: the PENDING transition (findAndModify, the whole document back);
7. MongoDB: the audit drain (insert of two records, findAndModify of the chain head);
8. Redis: the idempotency answer (SET EX);
9. in the background: two confirmed publishes (FastStream, persistent, mandatory), then the
   outbox removal, one bulk write per 0.2 s for every payment published meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import uvicorn
from faststream.rabbit import Channel, ExchangeType, RabbitBroker, RabbitExchange
from paycore.fraud.velocity import HIT_AND_COUNT
from paycore.gateway.transport import KEEPALIVE_SECONDS, MAX_CONNECTIONS
from payments_api.ratelimit import ADMIT as RATE_LIMIT
from pymongo import AsyncMongoClient, ReturnDocument, UpdateOne
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

LOCAL_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"  # pragma: allowlist secret
REMOVAL_LINGER_SECONDS = 0.2  # as the relay's (paycore.kit.outbox.REMOVAL_LINGER)


def now_ms() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_payment(payment_id: str, user_id: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    """A document of the stored payment's shape (every field a new payment stores)."""
    now = now_ms()
    sealed = {"v": 1, "kid": "k1", "nonce": secrets.token_hex(12), "ct": secrets.token_hex(24)}
    return {
        "_id": payment_id, "payment_id": payment_id, "order_id": "ord_" + payment_id[4:],
        "user_id": user_id, "idempotency_key": key, "amount": body.get("amount", 0),
        "currency": body.get("currency", "INR"), "status": "CREATED", "version": 0,
        "cf_order_id": None, "payment_session_id": None, "cf_payment_id": None,
        "payment_method": None, "captured_amount": 0, "payment_amount": None,
        "surcharge_amount": 0, "offer_amount": 0, "refunded_amount": 0,
        "refund_reserved_amount": 0, "refundable_amount": 0, "refund_reservations": [],
        "reservations": [], "settled_refunds": [], "reversed_refunds": [], "failed_attempts": [],
        "extra_captures": [], "disputed_amount": 0, "chargeback_amount": 0, "dispute_holds": [],
        "settled_disputes": [], "last_refund_status": None, "invoice_number": None,
        "customer": {"customer_id": "cus_" + secrets.token_hex(10), "name": dict(sealed),
                     "email": dict(sealed), "phone": dict(sealed), "email_hash": "e" * 32,
                     "phone_hash": "p" * 32},
        "metadata": {}, "failure_reason": None, "order_missing_since": None, "settlement": None,
        "is_reconciled": False, "recheck": {"due_at": None, "checks": 0}, "retry_count": 0,
        "request_fingerprint": "f" * 64, "risk_flags": [], "history": [], "outbox": [],
        "created_at": now, "updated_at": now,
    }  # fmt: skip


def event(event_type: str, payment: dict[str, Any]) -> dict[str, Any]:
    return {
        "envelope": {
            "event_id": "evt_" + uuid.uuid4().hex, "type": event_type, "version": 1,
            "occurred_at": now_ms(),
            "data": {k: payment[k] for k in ("payment_id", "order_id", "user_id", "amount",
                                             "currency", "status", "invoice_number")},
        },
        "headers": {"request_id": uuid.uuid4().hex, "correlation_id": uuid.uuid4().hex},
    }  # fmt: skip


class Floor:
    def __init__(self) -> None:
        uri = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, socketTimeoutMS=3000,
            tz_aware=True, appname="library-floor",
        )  # fmt: skip
        database = self.mongo[os.environ["MONGO_DB"]]
        self.payments = database["floor_payments"]
        self.audit = database["floor_audit_logs"]
        self.redis = Redis.from_url(
            os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True,
            socket_timeout=3, socket_connect_timeout=3, health_check_interval=30,
        )  # fmt: skip
        self.fraud_script = self.redis.register_script(HIT_AND_COUNT)
        self.rate_limit = self.redis.register_script(RATE_LIMIT)
        self.prefix = os.environ.get("REDIS_PREFIX", "") + "floor:"
        self.orders_url = os.environ["BENCH_EMULATOR_URL"] + "/pg/orders"
        self.http: aiohttp.ClientSession | None = None  # made in the running loop
        self.broker = RabbitBroker(
            os.environ.get("RABBITMQ_URL", LOCAL_RABBITMQ),
            default_channel=Channel(publisher_confirms=True, on_return_raises=True),
            logger=None,
        )
        self.exchange = RabbitExchange(
            os.environ.get("BROKER_PREFIX", "") + "payment.exchange",
            type=ExchangeType.TOPIC, durable=True,
        )  # fmt: skip
        self.removals: list[UpdateOne] = []
        self.background: set[asyncio.Task[None]] = set()

    async def create(self, request: Request) -> Response:
        body = json.loads(await request.body())
        key = request.headers.get("idempotency-key") or uuid.uuid4().hex
        user, now = "usr_bench", int(time.time() * 1000)
        limits = [f"{self.prefix}ratelimit:{scope}" for scope in ("ip:127.0.0.1", f"user:{user}")]
        member = f"{now}-{secrets.token_hex(4)}"
        await self.rate_limit(keys=limits, args=[member, now, now - 60_000, 60_000, 10**9, 10**9])
        claim = f"{self.prefix}idempotency:payment:{user}:{key}"
        await self.redis.set(claim, '{"state":"in_flight"}', nx=True, ex=60)
        await self.screen(user)
        payment_id = "pay_" + uuid.uuid4().hex[:20]
        payment = new_payment(payment_id, user, key, body)
        await self.payments.insert_one(payment)
        assert self.http is not None
        async with self.http.request(
            "POST", self.orders_url, allow_redirects=False,
            data=json.dumps({"order_id": payment["order_id"], "order_amount": 100.0,
                             "order_currency": "INR",
                             "customer_details": {"customer_id": "cus_bench",
                                                  "customer_phone": "9876543210"}}).encode(),
            headers={"content-type": "application/json", "x-idempotency-key": payment_id},
        ) as answer:  # fmt: skip
            order = json.loads(await answer.read())
        events = [event("payment.created", payment), event("payment.pending", payment)]
        entries = [self.entry("payment.pending"), self.entry("payment.create")]
        stored = await self.payments.find_one_and_update(
            {"_id": payment_id, "status": "CREATED", "version": 0},
            {"$set": {"status": "PENDING", "cf_order_id": order.get("cf_order_id"),
                      "payment_session_id": order.get("payment_session_id"),
                      "updated_at": now_ms()},
             "$inc": {"version": 1},
             "$push": {"history": {"$each": [{"from_status": "CREATED", "to_status": "PENDING",
                                              "at": now_ms(), "evidence": {"source": "gateway"}}]},
                       "outbox": {"$each": events}, "audit_pending": {"$each": entries}}},
            return_document=ReturnDocument.AFTER,
        )  # fmt: skip
        assert stored is not None
        await self.drain(payment_id, entries)
        self.publish_soon(payment_id, events)
        data = {k: v for k, v in stored.items() if k not in ("outbox", "audit_pending", "history")}
        answer_body = {"data": json.loads(json.dumps(data, default=str)), "requestId": key}
        await self.redis.set(claim, json.dumps({"state": "done", "body": answer_body}), ex=86400)
        return JSONResponse(answer_body, status_code=201)

    async def screen(self, user: str) -> None:
        now = int(time.time() * 1000)
        keys = [f"{self.prefix}fraud:attempts:{dim}:{user}" for dim in ("user", "ip", "email")]
        keys += [f"{self.prefix}fraud:failures:{dim}:{user}" for dim in ("user", "email")]
        await self.fraud_script(
            keys=keys,
            args=[3, f"{now}-{secrets.token_hex(4)}", now, now - 600_000, 600_000, now - 3_600_000],
        )

    def entry(self, action: str) -> dict[str, Any]:
        return {"entry_id": uuid.uuid4().hex, "at": now_ms(), "action": action,
                "actor": {"kind": "user", "id": "usr_bench", "ip": "127.0.0.1"},
                "before": {"status": "CREATED", "version": 0},
                "after": {"status": "PENDING", "version": 1}, "evidence": {"source": "gateway"},
                "request_id": uuid.uuid4().hex, "trace_id": uuid.uuid4().hex}  # fmt: skip

    async def drain(self, payment_id: str, entries: list[dict[str, Any]]) -> None:
        records = [
            {**entry, "_id": f"payment:{payment_id}:{n:010d}", "seq": n, "hash": "h" * 64,
             "prev_hash": "0" * 64, "resource_type": "payment", "resource_id": payment_id}
            for n, entry in enumerate(entries, start=1)
        ]  # fmt: skip
        await self.audit.insert_many(records)
        await self.payments.find_one_and_update(
            {"_id": payment_id, "audit_head": {"$exists": False}},
            {"$set": {"audit_head": {"seq": len(records), "hash": "h" * 64}},
             "$pullAll": {"audit_pending": entries}},
            return_document=ReturnDocument.AFTER,
        )  # fmt: skip

    def publish_soon(self, payment_id: str, events: list[dict[str, Any]]) -> None:
        task = asyncio.get_running_loop().create_task(self.publish(payment_id, events))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def publish(self, payment_id: str, events: list[dict[str, Any]]) -> None:
        for item in events:
            envelope = item["envelope"]
            await self.broker.publish(
                json.dumps(envelope, default=str).encode(), exchange=self.exchange,
                routing_key=envelope["type"], persist=True, mandatory=True, timeout=10,
                headers={**item["headers"], "event_id": envelope["event_id"]},
                content_type="application/json", message_id=envelope["event_id"],
                correlation_id=item["headers"]["correlation_id"],
            )  # fmt: skip
        self.removals.append(UpdateOne({"_id": payment_id}, {"$pullAll": {"outbox": events}}))

    async def remove_published(self) -> None:
        """The relay's grouped removal: one bulk write per linger for every payment published."""
        while True:
            await asyncio.sleep(REMOVAL_LINGER_SECONDS)
            if self.removals:
                batch, self.removals = self.removals[:50], self.removals[50:]
                await self.payments.bulk_write(batch, ordered=False)

    @contextlib.asynccontextmanager
    async def running(self, app: Starlette) -> AsyncIterator[None]:
        await self.broker.connect()
        await self.broker.start()
        self.http = aiohttp.ClientSession(
            headers={"x-client-id": "TEST_APP_ID", "x-client-secret": "TEST_SECRET_KEY",
                     "x-api-version": "2025-01-01", "accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_connect=3, sock_read=10),
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS,
                                           keepalive_timeout=KEEPALIVE_SECONDS),
            # As the transport: the environment's proxy is looked up once, not per request.
            cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
        )  # fmt: skip
        remover = asyncio.create_task(self.remove_published())
        try:
            yield
        finally:
            remover.cancel()
            await self.broker.stop()
            if self.http is not None:
                await self.http.close()
            await self.redis.aclose()
            await self.mongo.close()


async def ping(request: Request) -> Response:
    return PlainTextResponse("ok")


def build_app() -> Starlette:
    floor = Floor()
    return Starlette(
        routes=[Route("/ping", ping), Route("/create", floor.create, methods=["POST"])],
        lifespan=floor.running,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        build_app(), host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
        access_log=False, log_level="warning", server_header=False,
    )  # fmt: skip


if __name__ == "__main__":
    main()
