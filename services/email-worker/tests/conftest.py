import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from smtp_sink.testing import RunningSmtpSink, running_smtp_sink

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
async def sink() -> AsyncIterator[RunningSmtpSink]:
    async with running_smtp_sink() as running:
        yield running
