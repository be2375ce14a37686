"""What operators read about reconciliation: runs and the items (breaks) they found."""

from __future__ import annotations

from typing import Any

from paycore.reconciliation.models import ReconciliationItem, ReconciliationRun


async def latest_runs(limit: int = 10) -> list[ReconciliationRun]:
    """The most recent runs, newest first."""
    cursor = ReconciliationRun.get_pymongo_collection().find().sort("started_at", -1).limit(limit)
    return [ReconciliationRun.model_validate(raw) async for raw in cursor]


async def items_of(run_ids: list[str], limit: int = 200) -> list[ReconciliationItem]:
    """The items these runs found first or found again, newest first (at most `limit`)."""
    if not run_ids:
        return []
    cursor = (
        ReconciliationItem.get_pymongo_collection()
        .find({"$or": [{"run_id": {"$in": run_ids}}, {"last_run_id": {"$in": run_ids}}]})
        .sort("created_at", -1)
        .limit(limit)
    )
    return [ReconciliationItem.model_validate(raw) async for raw in cursor]


async def find_items(
    *,
    run_id: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 200,
) -> list[ReconciliationItem]:
    """Items by run (found first or again by it), status and kind; grouped by kind, then
    oldest first."""
    query: dict[str, Any] = {}
    if run_id is not None:
        query["$or"] = [{"run_id": run_id}, {"last_run_id": run_id}]
    if status is not None:
        query["status"] = status
    if kind is not None:
        query["kind"] = kind
    cursor = (
        ReconciliationItem.get_pymongo_collection()
        .find(query)
        .sort([("kind", 1), ("created_at", 1)])
        .limit(limit)
    )
    return [ReconciliationItem.model_validate(raw) async for raw in cursor]
