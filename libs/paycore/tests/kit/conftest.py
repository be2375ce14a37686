import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from paycore.testing import mongo_uri
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


@pytest.fixture
async def db() -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of the test's own on the server, through PyMongo alone (no Beanie); dropped
    afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri(), serverSelectionTimeoutMS=5000
    )
    name = f"test_raw_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()
