"""Beanie on the real MongoDB-compatible server (or MONGO_URI): round trip, unique index,
indexes ensured twice (FerretDB's createIndexes crash), guarded updates."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from beanie import Document
from paycore.kit.mongo import connect_mongo, ensure_indexes, is_duplicate_key
from paycore.testing import isolated_settings
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError


class Widget(Document):
    widget_id: str
    owner: str
    stock: int = 0

    class Settings:
        name = "widgets"
        indexes = [  # noqa: RUF012
            IndexModel([("widget_id", ASCENDING)], name="widget_id_unique", unique=True),
            IndexModel([("owner", ASCENDING), ("stock", ASCENDING)], name="owner_stock"),
        ]


@pytest.fixture
async def database() -> AsyncIterator[str]:
    settings = isolated_settings()
    client = await connect_mongo(settings, [Widget])
    yield settings.mongo_db
    await client.drop_database(settings.mongo_db)
    await client.close()


async def test_round_trip(database: str) -> None:
    await Widget(widget_id="w1", owner="asha", stock=3).insert()
    found = await Widget.find_one(Widget.widget_id == "w1")
    assert found is not None
    assert (found.owner, found.stock) == ("asha", 3)


async def test_unique_index_violation_is_recognised(database: str) -> None:
    await Widget(widget_id="w1", owner="asha").insert()
    with pytest.raises(DuplicateKeyError) as caught:
        await Widget(widget_id="w1", owner="ravi").insert()
    assert is_duplicate_key(caught.value)


async def test_update_into_a_duplicate_is_recognised(database: str) -> None:
    await Widget(widget_id="w1", owner="asha").insert()
    await Widget(widget_id="w2", owner="asha").insert()
    collection = Widget.get_pymongo_collection()
    with pytest.raises(Exception) as caught:  # noqa: PT011 - differs by server, see helper
        await collection.update_one({"widget_id": "w2"}, {"$set": {"widget_id": "w1"}})
    assert is_duplicate_key(caught.value)


async def test_indexes_can_be_ensured_again(database: str) -> None:
    await ensure_indexes([Widget])
    await ensure_indexes([Widget])
    names = set((await Widget.get_pymongo_collection().index_information()).keys())
    assert {"widget_id_unique", "owner_stock"} <= names


async def test_concurrent_guarded_decrements_never_oversell(database: str) -> None:
    await Widget(widget_id="w1", owner="asha", stock=10).insert()
    collection = Widget.get_pymongo_collection()

    async def take_three() -> bool:
        taken = await collection.find_one_and_update(
            {"widget_id": "w1", "stock": {"$gte": 3}}, {"$inc": {"stock": -3}}
        )
        return taken is not None

    results = await asyncio.gather(*(take_three() for _ in range(30)))
    assert sum(results) == 3
    widget = await Widget.find_one(Widget.widget_id == "w1")
    assert widget is not None
    assert widget.stock == 1
