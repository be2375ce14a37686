from collections.abc import AsyncIterator

import pytest
from cashfree_emulator.testing import RunningEmulator
from payments_api_testing import ApiClient, api, emu
from web_testing import WebClient, web_client

__all__ = ["api", "emu", "web"]  # the API's fixtures (shared with its tests), and the pages'


@pytest.fixture(scope="module")
async def web(api: ApiClient, emu: RunningEmulator) -> AsyncIterator[WebClient]:
    async with web_client(api, emu) as client:
        yield client
