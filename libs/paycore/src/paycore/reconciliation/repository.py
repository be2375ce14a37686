"""Every query on reconciliation runs and items (the engine's, operators', the schedule's).

Runs are keyed by `run_id` (a window and schedule), items by `item_id` (a break's kind and
subject): the keys make a re-run update what an earlier run wrote instead of adding to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from paycore.kit.mongo import find_one, insert_new
from paycore.reconciliation.models import (
    ItemStatus,
    MismatchKind,
    ReconciliationItem,
    ReconciliationRun,
)

RUN_COUNTS = (
    "checked",
    "asked_gateway",
    "report_pages",
    "matched",
    "mismatched",
    "healed",
    "closed",
)
FINISHED = ("DONE", "FAILED")


class ReconciliationRepository:
    @property
    def runs(self) -> AsyncCollection[dict[str, Any]]:
        return ReconciliationRun.get_pymongo_collection()

    @property
    def items(self) -> AsyncCollection[dict[str, Any]]:
        return ReconciliationItem.get_pymongo_collection()

    # Runs -------------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> ReconciliationRun | None:
        return await find_one(ReconciliationRun, {"_id": run_id})

    async def insert_run(self, run: ReconciliationRun) -> ReconciliationRun:
        """Inserts the run, or returns the window's run inserted before (by anyone)."""
        if await insert_new(run):
            return run
        found = await self.get_run(run.run_id)
        assert found is not None  # the duplicate key names it
        return found

    async def ask_again(self, run_id: str) -> None:
        """A finished run asked for again is REQUESTED; a waiting or running one stays."""
        await self.runs.update_one(
            {"_id": run_id, "status": {"$in": list(FINISHED)}}, {"$set": {"status": "REQUESTED"}}
        )

    async def latest_runs(self, limit: int = 10) -> list[ReconciliationRun]:
        """The most recent runs, newest first."""
        cursor = self.runs.find().sort("started_at", -1).limit(limit)
        return [ReconciliationRun.model_validate(raw) async for raw in cursor]

    async def requested_runs(self, limit: int = 10) -> list[ReconciliationRun]:
        """Runs operators asked for, oldest first."""
        cursor = self.runs.find({"status": "REQUESTED"}).sort("started_at", 1).limit(limit)
        return [ReconciliationRun.model_validate(raw) async for raw in cursor]

    async def done_run_ids(self, run_ids: Iterable[str]) -> set[str]:
        """Which of these runs finished DONE."""
        cursor = self.runs.find({"_id": {"$in": list(run_ids)}, "status": "DONE"}, {"_id": 1})
        return {raw["_id"] async for raw in cursor}

    async def last_done_at(self, schedule: str) -> datetime | None:
        """When the latest DONE run of `schedule` finished."""
        latest = await self.runs.find_one(
            {"schedule": schedule, "status": "DONE", "finished_at": {"$ne": None}},
            sort=[("finished_at", -1)],
        )
        return latest["finished_at"] if latest is not None else None

    # Items --------------------------------------------------------------------------------

    async def get_item(self, item_id: str) -> ReconciliationItem | None:
        return await find_one(ReconciliationItem, {"item_id": item_id})

    async def insert_item(self, item: ReconciliationItem) -> bool:
        """Inserts a break found for the first time; False if its item exists already."""
        return await insert_new(item)

    async def seen_again(
        self, item_id: str, changes: Mapping[str, Any], *, healed: bool, at: datetime
    ) -> bool:
        """Records a later sighting. Healed this time: an OPEN item (an earlier heal failed)
        turns HEALED; True if it did. Still broken: see `reopen`. An operator's resolution
        stands."""
        moved = False
        if healed:
            result = await self.items.update_one(
                {"item_id": item_id, "status": ItemStatus.OPEN.value},
                {"$set": {"status": ItemStatus.HEALED.value, "closed_at": at}},
            )
            moved = result.modified_count == 1
        await self.items.update_one({"item_id": item_id}, {"$set": dict(changes)})
        return moved

    async def reopen(self, item_id: str) -> int | None:
        """A HEALED or CLOSED item found broken again turns OPEN; returns how many times it
        was reopened (1 the first time), None if it was not HEALED or CLOSED (still open, or
        resolved by an operator)."""
        raw = await self.items.find_one_and_update(
            {
                "item_id": item_id,
                "status": {"$in": [ItemStatus.HEALED.value, ItemStatus.CLOSED.value]},
            },
            {"$set": {"status": ItemStatus.OPEN.value, "closed_at": None}, "$inc": {"reopened": 1}},
            return_document=ReturnDocument.AFTER,
        )
        return int(raw["reopened"]) if raw is not None else None

    async def open_item_ids(self, order_ids: Iterable[str]) -> list[str]:
        """Open items of these orders."""
        query = {"status": ItemStatus.OPEN.value, "order_id": {"$in": sorted(order_ids)}}
        return [raw["item_id"] async for raw in self.items.find(query, {"item_id": 1})]

    async def open_item_orders(self) -> list[str]:
        """Orders with an open item, oldest item first."""
        query = {"status": ItemStatus.OPEN.value, "order_id": {"$ne": None}}
        cursor = self.items.find(query, {"order_id": 1}).sort("created_at", 1)
        return [raw["order_id"] async for raw in cursor]

    async def close(self, item_id: str, at: datetime, run_id: str) -> bool:
        """Closes an open item a run found fixed; False if it was not open."""
        result = await self.items.update_one(
            {"item_id": item_id, "status": ItemStatus.OPEN.value},
            {"$set": {"status": ItemStatus.CLOSED.value, "closed_at": at, "last_run_id": run_id}},
        )
        return result.modified_count == 1

    async def resolve(self, item_id: str, note: str, by: str, at: datetime) -> bool:
        """Marks an open item RESOLVED with the operator's note; False if it was not open."""
        result = await self.items.update_one(
            {"item_id": item_id, "status": ItemStatus.OPEN.value},
            {
                "$set": {
                    "status": ItemStatus.RESOLVED.value,
                    "note": note,
                    "resolved_by": by,
                    "closed_at": at,
                }
            },
        )
        return result.modified_count == 1

    async def open_counts(self) -> dict[str, int]:
        """Open items by kind (every kind, 0 when none)."""
        counts = {kind.value: 0 for kind in MismatchKind}
        cursor = await self.items.aggregate(
            [
                {"$match": {"status": ItemStatus.OPEN.value}},
                {"$group": {"_id": "$kind", "count": {"$sum": 1}}},
            ]
        )
        async for row in cursor:
            counts[row["_id"]] = row["count"]
        return counts

    async def items_of(self, run_ids: list[str], limit: int = 200) -> list[ReconciliationItem]:
        """The items these runs found first or found again, newest first (at most `limit`)."""
        if not run_ids:
            return []
        query = {"$or": [{"run_id": {"$in": run_ids}}, {"last_run_id": {"$in": run_ids}}]}
        cursor = self.items.find(query).sort("created_at", -1).limit(limit)
        return [ReconciliationItem.model_validate(raw) async for raw in cursor]

    async def find_items(
        self,
        *,
        run_id: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 200,
    ) -> list[ReconciliationItem]:
        """Items by run (found first or again by it), status and kind; grouped by kind, then
        oldest first."""
        query = _items_query(run_id=run_id, status=status, kind=kind)
        cursor = self.items.find(query).sort([("kind", 1), ("created_at", 1)]).limit(limit)
        return [ReconciliationItem.model_validate(raw) async for raw in cursor]

    async def count_items(
        self, *, run_id: str | None = None, status: str | None = None, kind: str | None = None
    ) -> int:
        """How many items `find_items` would list without its limit."""
        return await self.items.count_documents(
            _items_query(run_id=run_id, status=status, kind=kind)
        )


def _items_query(*, run_id: str | None, status: str | None, kind: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if run_id is not None:
        query["$or"] = [{"run_id": run_id}, {"last_run_id": run_id}]
    if status is not None:
        query["status"] = status
    if kind is not None:
        query["kind"] = kind
    return query
