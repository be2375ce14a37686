"""The email-worker run in this process for tests, and cleaning up after it."""

import asyncio
import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from email_worker.app import build_app
from email_worker.settings import Settings
from paycore.kit.broker import archive_queue, make_broker, topic_exchange
from paycore.kit.events import EXCHANGES
from paycore.kit.mongo import mongo_client
from paycore.kit.service import Resources
from paycore.testing import isolated_settings
from smtp_sink.testing import RunningSmtpSink
from starlette.applications import Starlette

RETRY_DELAYS_MS = [150, 300, 450]


def worker_settings(sink: RunningSmtpSink, **overrides: Any) -> Settings:
    infra = isolated_settings(retry_delays_ms=RETRY_DELAYS_MS)
    values: dict[str, Any] = {
        **infra.model_dump(),
        "smtp_url": sink.smtp_url,
        "smtp_timeout_seconds": 2,
        "payment_encryption_key": base64.b64encode(os.urandom(32)).decode(),
        "admin_email": "ops@example.com",
    }
    return Settings(**(values | overrides))


@asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[Resources]:
    """The email-worker in this process, through its app's lifespan; its queues, the event
    archive and its database are removed afterwards."""
    app: Starlette = build_app(settings)
    try:
        async with app.router.lifespan_context(app):
            resources: Resources = app.state.resources
            yield resources
    finally:
        started = getattr(app.state, "resources", None)
        if started is not None:
            await remove_traces(settings, started)


async def remove_traces(settings: Settings, resources: Resources) -> None:
    broker = make_broker(settings)
    await broker.connect()
    queues = [archive_queue(settings)]
    for consumer in resources.consumers:
        queues += [consumer.work, consumer.dead_letters, *consumer.retries]
    for queue in queues:
        declared = await broker.declare_queue(queue)
        await declared.delete(if_unused=False, if_empty=False)
    for exchange in [
        *(topic_exchange(settings.broker_prefix, f"{family}.exchange") for family in EXCHANGES),
        *(consumer.dead_letter_exchange for consumer in resources.consumers),
    ]:
        declared_exchange = await broker.declare_exchange(exchange)
        await declared_exchange.delete()
    await broker.stop()
    client = mongo_client(settings)
    await client.drop_database(settings.mongo_db)
    await client.close()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Waits until `check()` holds; fails the test after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.05)
