"""Fixtures of the reconciler's tests: the Cashfree emulator, a gateway client for it, a
database of the test's own, and a Redis client under the test's prefix."""

from collections.abc import AsyncIterator

import pytest
from cashfree_emulator.testing import RunningEmulator, running_emulator
from paycore.gateway import CashfreeGateway
from paycore.kit.mongo import connect_mongo
from paycore.kit.redis import redis_client
from paycore.kit.service import InfraSettings
from paycore.testing import isolated_settings
from recon_support import gateway_for
from reconciler.app import MODELS
from redis.asyncio import Redis


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


@pytest.fixture
async def redis(database: InfraSettings) -> AsyncIterator[Redis]:
    client = redis_client(database)
    yield client
    await client.aclose()
