from collections.abc import AsyncIterator
from typing import Any

import pytest
from paycore.testing import raw_database
from pymongo.asynchronous.database import AsyncDatabase


@pytest.fixture
async def db() -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of the test's own on the server, through PyMongo alone (no Beanie); dropped
    afterwards."""
    async with raw_database("test_raw") as database:
        yield database
