"""Helpers for the ingress tests: settings, signed bodies, the app on an ASGI client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from faststream.rabbit import RabbitBroker, RabbitQueue
from paycore.kit.broker import make_broker, topic_exchange
from paycore.kit.events import EventEnvelope
from paycore.testing import (
    TEST_ENCRYPTION_KEY,
    SeenEvents,
    isolated_settings,
    signed_webhook_headers,
    unique_suffix,
)
from paycore.webhooks.models import WebhookLog
from paycore.webhooks.repository import from_mongo
from starlette.applications import Starlette
from webhook_ingress.app import build_app
from webhook_ingress.settings import Settings

SECRET = b"whsec_current"
PATH = "/api/v1/webhooks/cashfree"


def ingress_settings(**overrides: Any) -> Settings:
    values = {**isolated_settings().model_dump(), "service_name": "webhook-ingress"}
    values |= {
        "cashfree_webhook_secret": "whsec_old, whsec_current",
        "payment_encryption_key": TEST_ENCRYPTION_KEY,
        **overrides,
    }
    return Settings(**values)


def payment_body(order_id: str = "ord_1", amount: str = "100.00") -> bytes:
    # Written by hand, as Cashfree does: amounts keep their two decimals.
    order = f'{{"order_id":"{order_id}","order_amount":{amount},"order_currency":"INR"}}'
    payment = (
        '{"cf_payment_id":"5114910","payment_status":"SUCCESS",'
        f'"payment_amount":{amount},"payment_currency":"INR"}}'
    )
    return (
        f'{{"data":{{"order":{order},"payment":{payment}}},'
        '"event_time":"2025-01-15T11:16:10+05:30","type":"PAYMENT_SUCCESS_WEBHOOK"}'
    ).encode()


def signed_headers(
    body: bytes,
    *,
    secret: bytes = SECRET,
    timestamp_ms: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, str]:
    headers = signed_webhook_headers(body, secret, timestamp_ms) | {"x-webhook-attempt": "1"}
    if idempotency_key is not None:
        headers["x-idempotency-key"] = idempotency_key
    return headers


@dataclass
class Ingress:
    settings: Settings
    app: Starlette
    client: httpx.AsyncClient
    broker: RabbitBroker
    queue: RabbitQueue
    published: SeenEvents = field(default_factory=SeenEvents)

    async def post(self, body: bytes, headers: dict[str, str], path: str = PATH) -> httpx.Response:
        return await self.client.post(path, content=body, headers=headers)

    async def logs(self) -> list[WebhookLog]:
        cursor = WebhookLog.get_pymongo_collection().find({})
        return [from_mongo(raw) async for raw in cursor]

    async def drain(self) -> list[EventEnvelope]:
        declared = await self.broker.declare_queue(self.queue)
        while (message := await declared.get(no_ack=True, fail=False)) is not None:
            self.published.add(message.body)
        return self.published.events


async def start_ingress(settings: Settings) -> AsyncIterator[Ingress]:
    app = build_app(settings)
    broker = make_broker(settings)
    await broker.connect()
    # Records what the ingress publishes to webhook.exchange.
    queue = RabbitQueue(
        f"{settings.broker_prefix}test.webhooks.{unique_suffix()}", auto_delete=True
    )
    async with app.router.lifespan_context(app):
        declared = await broker.declare_queue(queue)
        exchange = await broker.declare_exchange(
            topic_exchange(settings.broker_prefix, "webhook.exchange")
        )
        await declared.bind(exchange, routing_key="webhook.cashfree.received")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
            yield Ingress(settings, app, client, broker, queue)
            await WebhookLog.get_pymongo_collection().database.client.drop_database(
                settings.mongo_db
            )
    await broker.stop()


def as_json(body: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(body)
    return loaded
