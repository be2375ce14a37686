"""What operators read about reconciliation: the latest runs and the mismatches they found."""

from __future__ import annotations

from paycore.reconciliation.models import ReconciliationItem, ReconciliationRun


async def latest_runs(limit: int = 10) -> list[ReconciliationRun]:
    """The most recent runs, newest first."""
    cursor = ReconciliationRun.get_pymongo_collection().find().sort("started_at", -1).limit(limit)
    return [ReconciliationRun.model_validate(raw) async for raw in cursor]


async def items_of(run_ids: list[str], limit: int = 200) -> list[ReconciliationItem]:
    """The mismatches of these runs, newest first (at most `limit`)."""
    if not run_ids:
        return []
    cursor = (
        ReconciliationItem.get_pymongo_collection()
        .find({"run_id": {"$in": run_ids}})
        .sort("created_at", -1)
        .limit(limit)
    )
    return [ReconciliationItem.model_validate(raw) async for raw in cursor]
