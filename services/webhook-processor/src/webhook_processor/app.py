from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from paycore.fraud.screening import failure_counter
from paycore.gateway import CashfreeGateway
from paycore.kit.http import create_app
from paycore.kit.settings import AppEnv
from paycore.webhooks.service import Checkpoint
from starlette.applications import Starlette

from webhook_processor.settings import Settings
from webhook_processor.subscribers import WebhookHandler
from webhook_processor.wiring import processor_resources, webhook_service

# Readiness requires only what this service cannot work without: it consumes the broker and writes
# the database.
READY = ("database", "queues")


def build_app(settings: Settings) -> Starlette:
    resources, consumer = processor_resources(settings)
    gateway = CashfreeGateway(settings)
    service = webhook_service(settings, gateway)
    service.payments.on_attempt_failed = failure_counter(
        resources, settings.fraud_failure_window_seconds, settings.redis_prefix
    )
    if settings.app_env == AppEnv.TEST and settings.webhook_test_hold_file:
        service.checkpoint = hold_forever(Path(settings.webhook_test_hold_file))
    consumer.subscribe(WebhookHandler(service, retry_count=len(settings.retry_delays_ms)))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with resources.running():
                app.state.resources = resources
                yield
        finally:
            await gateway.aclose()

    return create_app(settings, [], lifespan=lifespan, checks=resources.checks(), ready=READY)


def hold_forever(marker: Path) -> Checkpoint:
    """Test only: signals through `marker` that a webhook is applied but not yet marked done,
    then never returns (the test kills the process here)."""

    async def checkpoint(log_id: str) -> None:
        await asyncio.to_thread(marker.write_text, log_id)
        await asyncio.Event().wait()

    return checkpoint
