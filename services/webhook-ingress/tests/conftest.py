import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ingress_support import Ingress, ingress_settings, start_ingress


@pytest.fixture
async def ingress() -> AsyncIterator[Ingress]:
    async for running in start_ingress(ingress_settings()):
        yield running
