"""The email-worker run in this process for tests, and cleaning up after it."""

import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from email_worker.app import build_app
from email_worker.settings import Settings
from paycore.kit.service import InfraSettings, Resources
from paycore.testing import isolated_settings, running_service
from smtp_sink.testing import RunningSmtpSink

RETRY_DELAYS_MS = [150, 300, 450]


def worker_settings(
    sink: RunningSmtpSink, infra: InfraSettings | None = None, **overrides: Any
) -> Settings:
    """Settings sending to `sink`, on `infra`'s database and prefixes (else its own)."""
    infra = infra or isolated_settings(retry_delays_ms=RETRY_DELAYS_MS)
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
    async with running_service(build_app(settings), settings) as resources:
        yield resources
