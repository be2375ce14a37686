"""Drains of one chain in one process run one at a time: concurrent appends to one resource
write each record once, with no refused insert (a race for the same chain position)."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from paycore.kit import audit
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

MONGO_URI = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")


class Inserts(monitoring.CommandListener):
    def __init__(self) -> None:
        self.records = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert" and event.command.get("insert") == audit.RECORDS:
            self.records += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def database() -> AsyncIterator[tuple[AsyncDatabase[dict[str, Any]], Inserts]]:
    inserts = Inserts()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        MONGO_URI, serverSelectionTimeoutMS=5000, event_listeners=[inserts]
    )
    name = f"test_drains_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name], inserts
    finally:
        await client.drop_database(name)
        await client.close()


async def test_concurrent_appends_to_one_chain_insert_each_record_once(
    database: tuple[AsyncDatabase[dict[str, Any]], Inserts],
) -> None:
    db, inserts = database
    count = 12
    await asyncio.gather(
        *(
            audit.append(db, "recon_item", "ri_1", audit.new_entry("item.note", after={"n": n}))
            for n in range(count)
        )
    )

    assert inserts.records == count
    subject = await db[audit.SUBJECTS].find_one({"_id": "recon_item:ri_1"})
    assert subject is not None
    assert subject[audit.PENDING] == []
    assert await audit.verify_resource(db, "recon_item:ri_1", subject[audit.HEAD]) == (True, count)
