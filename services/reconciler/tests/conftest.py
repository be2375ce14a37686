"""Fixtures of the reconciler's tests: the Cashfree emulator, a gateway client for it, and a
database of the test's own."""

from collections.abc import AsyncIterator

import pytest
from cashfree_emulator.testing import RunningEmulator, running_emulator
from paycore.gateway import CashfreeGateway
from paycore.kit.mongo import connect_mongo
from paycore.kit.service import InfraSettings
from paycore.testing import isolated_settings
from recon_support import gateway_for
from reconciler.app import MODELS


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator() as emu:
        yield emu


@pytest.fixture
async def gateway(emulator: RunningEmulator) -> AsyncIterator[CashfreeGateway]:
    """A client that does not retry: one armed fault is one failed call."""
    client = gateway_for(emulator)
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
async def database() -> AsyncIterator[InfraSettings]:
    """A database of the test's own; yields its settings."""
    settings = isolated_settings()
    client = await connect_mongo(settings, MODELS)
    yield settings
    await client.drop_database(settings.mongo_db)
    await client.close()
