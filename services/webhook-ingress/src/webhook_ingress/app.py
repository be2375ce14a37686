from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from paycore.kit.crypto import cipher_for
from paycore.kit.http import create_app
from paycore.kit.outbox import removal_linger
from paycore.kit.service import Resources
from paycore.webhooks.intake import WebhookIntake
from paycore.webhooks.models import WebhookLog
from paycore.webhooks.repository import WebhookLogRepository
from starlette.applications import Starlette

from webhook_ingress.openapi import openapi_route
from webhook_ingress.routes import routes
from webhook_ingress.settings import Settings

# Readiness requires only what this service cannot work without: it stores and answers 200 while
# the broker is down (the outbox publishes later), and dedupes without Redis.
READY = ("database",)


def build_app(settings: Settings) -> Starlette:
    # The relay's sweep publishes logs whose inline publish failed (see paycore.webhooks.intake).
    resources = Resources(settings, models=[WebhookLog], outboxes=[WebhookLog])

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with resources.running():
            assert resources.publisher is not None
            assert resources.redis is not None
            app.state.resources = resources
            app.state.settings = settings
            app.state.intake = intake = WebhookIntake(
                resources.publisher,
                resources.redis,
                cipher_for(settings),
                WebhookLogRepository(removal_linger(settings.outbox_grace_seconds)),
                redis_prefix=settings.redis_prefix,
                dedupe_ttl_seconds=settings.webhook_dedupe_ttl_seconds,
                publish_timeout_seconds=settings.webhook_publish_timeout_seconds,
            )
            try:
                yield
            finally:
                await intake.finish_in_flight()

    return create_app(
        settings,
        [*routes, openapi_route],
        lifespan=lifespan,
        checks=resources.checks(),
        ready=READY,
    )
