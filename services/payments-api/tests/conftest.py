from collections.abc import AsyncIterator

import pytest
from cashfree_emulator.testing import RunningEmulator, running_emulator
from payments_api_testing import ApiClient, api_client


@pytest.fixture(scope="session")
async def emu() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(refund_delay_seconds=0.05) as running:
        yield running


@pytest.fixture(scope="module")
async def api(emu: RunningEmulator) -> AsyncIterator[ApiClient]:
    """One app per test module (own database, queues and Redis prefix); tests use their own
    users, so they don't see each other's data."""
    async with api_client(emu) as client:
        yield client
