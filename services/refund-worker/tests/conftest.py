import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cashfree_emulator.testing import RunningEmulator, running_emulator

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
async def emu() -> AsyncIterator[RunningEmulator]:
    # No webhook URL: refund outcomes reach the worker by its answers and its poll only.
    async with running_emulator(refund_delay_seconds=0.05) as running:
        yield running
