"""Single-document atomicity, which paycore's consistency model relies on.

Real MongoDB gives it natively. Locally and in CI we run FerretDB 1.24 behind
infra/local/mongo-front, which serializes write commands per database because FerretDB
applies update/findAndModify as an unlocked read-modify-write. Against raw FerretDB
(`mongo-front -serialize=false`) these tests fail: guarded reservations over-commit and
concurrent $inc loses updates.
"""

import asyncio

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase


async def test_guarded_reservations_never_overcommit(db: AsyncDatabase) -> None:
    budget, amount, requests = 100, 7, 40
    expected_wins = budget // amount  # 14
    coll = db["budgets"]
    await coll.insert_one({"_id": "b1", "remaining": budget})

    async def reserve() -> bool:
        doc = await coll.find_one_and_update(
            {"_id": "b1", "remaining": {"$gte": amount}},
            {"$inc": {"remaining": -amount}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            assert doc["remaining"] >= 0
        return doc is not None

    results = await asyncio.gather(*(reserve() for _ in range(requests)))

    final = await coll.find_one({"_id": "b1"})
    assert final is not None
    assert sum(results) == expected_wins
    assert final["remaining"] == budget - expected_wins * amount
    assert final["remaining"] >= 0


async def test_concurrent_inc_loses_no_update(db: AsyncDatabase) -> None:
    n = 200
    coll = db["counters"]
    await coll.insert_one({"_id": "c1", "value": 0})

    await asyncio.gather(
        *(coll.update_one({"_id": "c1"}, {"$inc": {"value": 1}}) for _ in range(n))
    )

    final = await coll.find_one({"_id": "c1"})
    assert final is not None
    assert final["value"] == n
