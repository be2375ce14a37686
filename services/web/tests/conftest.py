from collections.abc import AsyncIterator

import pytest
from cashfree_emulator.testing import RunningEmulator, running_emulator
from payments_api_testing import ApiClient, api_client
from web_testing import WebClient, web_client


@pytest.fixture(scope="session")
async def emu() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(refund_delay_seconds=0.05) as running:
        yield running


@pytest.fixture(scope="module")
async def api(emu: RunningEmulator) -> AsyncIterator[ApiClient]:
    async with api_client(emu) as client:
        yield client


@pytest.fixture(scope="module")
async def web(api: ApiClient, emu: RunningEmulator) -> AsyncIterator[WebClient]:
    async with web_client(api, emu) as client:
        yield client
