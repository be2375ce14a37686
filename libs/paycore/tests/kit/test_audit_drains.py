"""Drains of one chain in one process run one at a time: concurrent appends to one resource
write each record once, with no refused insert (a race for the same chain position); a drain
moves all the entries waiting in one insert and one head update; and the background drains
after state changes of many documents share one insert and one bulk update of their heads."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from paycore.kit import audit
from paycore.kit.state import finish_audit_drains, guarded_update
from paycore.payments.models import Payment
from paycore.testing import raw_database
from pymongo import monitoring
from pymongo.asynchronous.database import AsyncDatabase


class Inserts(monitoring.CommandListener):
    """Audit records inserted (documents), the insert commands carrying them, the commands
    refused, and the writes to the audited documents."""

    def __init__(self) -> None:
        self.records = 0
        self.commands = 0
        self.refused = 0
        self.head_writes = 0
        self.updates = 0  # update commands (the shared head writes of background drains)
        self._records_inserts: set[int] = set()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert" and event.command.get("insert") == audit.RECORDS:
            self._records_inserts.add(event.request_id)
            self.commands += 1
            self.records += len(event.command["documents"])
        elif event.command_name == "findAndModify":
            self.head_writes += 1
        elif event.command_name == "update":
            self.updates += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.request_id in self._records_inserts and event.reply.get("writeErrors"):
            self.refused += 1

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if event.request_id in self._records_inserts:
            self.refused += 1


@pytest.fixture
async def database() -> AsyncIterator[tuple[AsyncDatabase[dict[str, Any]], Inserts]]:
    inserts = Inserts()
    async with raw_database("test_drains", inserts) as db:
        yield db, inserts


async def drained_chain_length(db: AsyncDatabase[dict[str, Any]], subject_id: str) -> int:
    """The subject's chain length, after checking nothing waits and the chain verifies."""
    subject = await db[audit.SUBJECTS].find_one({"_id": subject_id})
    assert subject is not None
    assert subject[audit.PENDING] == []
    intact, length = await audit.verify_resource(db, subject_id, subject[audit.HEAD])
    assert intact
    return length


async def waiting_entries(
    db: AsyncDatabase[dict[str, Any]], subject_id: str, count: int
) -> list[dict[str, Any]]:
    """`count` entries left pending on the subject (by a writer that stopped before its drain)."""
    entries = [audit.new_entry("item.note", after={"n": n}) for n in range(count)]
    await db[audit.SUBJECTS].insert_one({"_id": subject_id, audit.PENDING: entries})
    return entries


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

    assert (inserts.records, inserts.refused) == (count, 0)
    assert await drained_chain_length(db, "recon_item:ri_1") == count


async def test_a_drain_moves_every_waiting_entry_in_two_writes(
    database: tuple[AsyncDatabase[dict[str, Any]], Inserts],
) -> None:
    db, inserts = database
    subjects = db[audit.SUBJECTS]
    await waiting_entries(db, "recon_item:ri_2", 5)

    assert await audit.drain(subjects, "recon_item:ri_2") == 5

    assert (inserts.commands, inserts.records, inserts.head_writes) == (1, 5, 1)
    assert await drained_chain_length(db, "recon_item:ri_2") == 5
    actions = [r["after"]["n"] async for r in db[audit.RECORDS].find().sort("seq", 1)]
    assert actions == [0, 1, 2, 3, 4]


async def test_a_drain_adopts_the_record_a_stopped_drain_wrote_and_moves_the_rest(
    database: tuple[AsyncDatabase[dict[str, Any]], Inserts],
) -> None:
    db, _ = database
    subjects = db[audit.SUBJECTS]
    entries = await waiting_entries(db, "recon_item:ri_3", 3)
    # A drain that wrote the first record and stopped before moving the head.
    first = audit._chained("recon_item", "ri_3", entries[0], {"seq": 0, "hash": audit.GENESIS})
    await db[audit.RECORDS].insert_one(first)

    assert await audit.drain(subjects, "recon_item:ri_3") == 2

    assert await drained_chain_length(db, "recon_item:ri_3") == 3


async def test_the_drains_after_state_changes_of_many_documents_share_two_writes(
    database: tuple[AsyncDatabase[dict[str, Any]], Inserts], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, inserts = database
    monkeypatch.setattr(audit, "LINGER_SECONDS", 30.0)  # until finish_audit_drains, however slow
    payments = db[Payment.Settings.name]  # audited as "payment"
    keys = [f"pay_{n}" for n in range(5)]
    await payments.insert_many([{"_id": key, "version": 0} for key in keys])
    for key in keys:
        for version in (0, 1):  # two changes each: both entries move in the same batch
            changed = await guarded_update(payments, key, version=version, set_fields={"n": 1})
            assert changed is not None
    writes_before = inserts.head_writes  # the ten guarded updates themselves

    await finish_audit_drains()

    # One insert of the ten records, one update of the five heads and pending lists.
    assert (inserts.commands, inserts.records, inserts.refused) == (1, 10, 0)
    assert (inserts.updates, inserts.head_writes - writes_before) == (1, 0)
    async for document in payments.find({}):
        assert document[audit.PENDING] == []
        resource = f"payment:{document['_id']}"
        assert await audit.verify_resource(db, resource, document[audit.HEAD]) == (True, 2)
