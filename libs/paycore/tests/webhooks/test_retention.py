"""Webhook log retention: final logs past the period go, anything still needing work stays."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from paycore.kit.ids import new_id
from paycore.kit.mongo import connect_mongo
from paycore.testing import isolated_settings
from paycore.webhooks.models import WebhookLog, WebhookStatus
from paycore.webhooks.repository import WebhookLogRepository


@pytest.fixture
async def db() -> AsyncIterator[None]:
    settings = isolated_settings()
    client = await connect_mongo(settings, [WebhookLog])
    yield
    await client.drop_database(settings.mongo_db)
    await client.close()


async def stored(days_old: int, status: WebhookStatus, dead_lettered: bool = False) -> str:
    log = WebhookLog(
        log_id=new_id("whk"),
        event_id=new_id("evt"),
        event_type="PAYMENT_SUCCESS_WEBHOOK",
        body_sha256="0" * 64,
        signature="sig",
        timestamp="0",
        status=status,
        dead_lettered=dead_lettered,
        received_at=datetime.now(UTC) - timedelta(days=days_old),
    )
    await WebhookLogRepository().insert(log)
    return log.log_id


@pytest.mark.usefixtures("db")
async def test_deletes_only_final_logs_older_than_the_cutoff() -> None:
    expired = [await stored(100, WebhookStatus.SUCCESS) for _ in range(5)]
    expired.append(await stored(100, WebhookStatus.IGNORED))
    kept = [
        await stored(10, WebhookStatus.SUCCESS),  # within the period
        await stored(100, WebhookStatus.RECEIVED),  # never applied
        await stored(100, WebhookStatus.FAILED, dead_lettered=True),  # waits for an operator
    ]
    repository = WebhookLogRepository()
    cutoff = datetime.now(UTC) - timedelta(days=90)

    assert await repository.delete_received_before(cutoff, batch_size=2) == len(expired)

    remaining = {doc["_id"] async for doc in repository.collection.find({}, {"_id": 1})}
    assert remaining == set(kept)
    assert await repository.delete_received_before(cutoff) == 0
