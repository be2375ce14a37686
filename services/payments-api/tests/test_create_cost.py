"""What one payment create costs the database, counted by a PyMongo command listener against
the real server: the insert, the PENDING transition (carrying the payment.create audit entry),
the two writes that chain both audit records, and the outbox relay's removal. A change that
adds a round trip to the create path fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

import pytest
from paycore.kit.state import finish_audit_drains
from paycore.payments.models import Payment
from paycore.testing import CommandCounter, eventually
from payments_api_testing import ApiClient, api_client, new_user
from pymongo import monitoring

if TYPE_CHECKING:
    from cashfree_emulator.testing import RunningEmulator

CREATES = 10
NOT_COUNTED: ContextVar[bool] = ContextVar("not_counted", default=False)


# Registered once for the process: it counts only the database a test points it at.
COUNTER = CommandCounter(counted=lambda: not NOT_COUNTED.get())
monitoring.register(COUNTER)


@pytest.fixture
async def counted_api(emu: RunningEmulator) -> AsyncIterator[ApiClient]:
    """An app of its own whose client the listener sees; the outbox sweep is kept out of the
    way (long poll and grace) so every event goes out on the request's fast path."""
    async with api_client(emu, outbox_poll_seconds=600, outbox_grace_seconds=600) as client:
        COUNTER.database = client.settings.mongo_db
        try:
            yield client
        finally:
            COUNTER.database = None


async def outboxes_empty() -> bool:
    waiting = {"outbox.0": {"$exists": True}}
    return await Payment.get_pymongo_collection().find_one(waiting, {"_id": 1}) is None


async def settled() -> None:
    """Waits until the background work the creates started (audit drains, outbox publishes
    and removals) is done; its own look-ups are not counted."""
    # The background tasks' commands are counted: they keep the context they started with.
    token = NOT_COUNTED.set(True)
    try:
        await finish_audit_drains()
        await eventually(outboxes_empty)
    finally:
        NOT_COUNTED.reset(token)


async def test_a_create_makes_four_writes_and_the_outbox_removal(counted_api: ApiClient) -> None:
    user = new_user()
    assert (await counted_api.create_payment(user)).status_code == 201  # warm-up
    await settled()
    COUNTER.counts.clear()

    for _ in range(CREATES):
        assert (await counted_api.create_payment(user)).status_code == 201
    await settled()

    counts = dict(COUNTER.counts)
    removals = counts.pop("update payments", 0)
    assert counts == {
        "insert payments": CREATES,
        "findAndModify payments": 2 * CREATES,  # the PENDING transition, the audit head
        "insert audit_logs": CREATES,  # both records of a create in one insert
    }
    assert 1 <= removals <= CREATES  # confirmed events leave the outbox, grouped when they can
