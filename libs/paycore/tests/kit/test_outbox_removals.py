"""Confirmed outbox events are removed in shared writes (group commit), exactly, on the real
server: concurrent removals take fewer `update` commands than documents, and only the stored
values named are removed."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from paycore.kit.outbox import ConfirmedRemovals
from paycore.testing import raw_database
from pymongo import monitoring
from pymongo.asynchronous.collection import AsyncCollection


class Updates(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update":
            self.commands += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def collection() -> AsyncIterator[tuple[AsyncCollection[dict[str, Any]], Updates]]:
    updates = Updates()
    async with raw_database("test_removals", updates) as db:
        yield db["documents"], updates


def event(n: int) -> dict[str, Any]:
    at = datetime.now(UTC).replace(microsecond=0)
    return {"envelope": {"event_id": f"e{n}", "occurred_at": at, "data": {"n": n}}, "headers": {}}


async def test_concurrent_removals_share_writes_and_remove_exactly_their_events(
    collection: tuple[AsyncCollection[dict[str, Any]], Updates],
) -> None:
    documents, updates = collection
    count = 40
    events = {n: [event(n), event(1000 + n)] for n in range(count)}
    await documents.insert_many([{"_id": f"d{n}", "outbox": events[n]} for n in range(count)])
    removals = ConfirmedRemovals(lambda: documents)

    await asyncio.gather(*(removals.remove(f"d{n}", [events[n][0]]) for n in range(count)))

    assert updates.commands < count / 4  # one for the first, then one for all who queued
    async for document in documents.find():
        n = int(document["_id"][1:])
        assert [e["envelope"]["event_id"] for e in document["outbox"]] == [f"e{1000 + n}"]


async def test_a_removal_that_names_no_stored_value_changes_nothing(
    collection: tuple[AsyncCollection[dict[str, Any]], Updates],
) -> None:
    documents, _ = collection
    stored = [event(1), event(2)]
    await documents.insert_one({"_id": "d", "outbox": stored})
    removals = ConfirmedRemovals(lambda: documents)

    await removals.remove("d", [event(3)])
    await removals.remove("missing", [stored[0]])
    await removals.remove("d", stored)

    assert (await documents.find_one({"_id": "d"})) == {"_id": "d", "outbox": []}


async def test_a_removal_that_fails_fails_alone(
    collection: tuple[AsyncCollection[dict[str, Any]], Updates],
) -> None:
    documents, _ = collection
    events = {n: [event(n)] for n in range(4)}
    # An outbox that is not an array: `$pullAll` refuses it (first in the shared write).
    await documents.insert_many(
        [{"_id": "broken", "outbox": "none"}]
        + [{"_id": f"d{n}", "outbox": events[n]} for n in range(4)]
    )
    removals = ConfirmedRemovals(lambda: documents)

    answers = await asyncio.gather(
        removals.remove("broken", [event(9)]),
        *(removals.remove(f"d{n}", events[n]) for n in range(4)),
        return_exceptions=True,
    )

    # Its own error only (MongoDB: a BulkWriteError; the local server answers with write
    # errors PyMongo cannot read: a KeyError).
    assert isinstance(answers[0], Exception)
    assert answers[1:] == [None] * 4
    async for document in documents.find({"_id": {"$ne": "broken"}}):
        assert document["outbox"] == []
