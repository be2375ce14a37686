import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from webhook_pipeline import Pipeline, running_pipeline


@pytest.fixture
async def pipeline() -> AsyncIterator[Pipeline]:
    async with running_pipeline() as running:
        yield running
