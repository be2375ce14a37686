"""What operators do with reconciliation, from the admin API or the reconciler's CLI: resolve
an open item with a note, and ask for a run of a window (the reconciler runs it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paycore.audit.models import Actor
from paycore.audit.trail import AuditTrail
from paycore.kit.errors import Conflict, NotFound, ValidationFailed
from paycore.kit.mongo import is_duplicate_key
from paycore.reconciliation.models import ItemStatus, ReconciliationItem, ReconciliationRun

MAX_WINDOW = timedelta(days=31)


class ReconciliationItemNotFound(NotFound):
    """No such reconciliation item."""

    code = "reconciliation_item_not_found"


class ReconciliationItemNotOpen(Conflict):
    """The item is not open (healed, closed by a run, or resolved already)."""

    code = "reconciliation_item_not_open"


def run_id_for(schedule: str, start: datetime, end: datetime) -> str:
    """One id per window and schedule, so a window's run is resumed rather than repeated."""
    return f"rec_{schedule}_{start:%Y%m%dT%H%M%S}_{end:%Y%m%dT%H%M%S}"


async def resolve_item(
    item_id: str, note: str, actor: Actor, audit: AuditTrail | None = None
) -> ReconciliationItem:
    """Closes an open item with the operator's note (audited). Raises
    `ReconciliationItemNotFound`, or `ReconciliationItemNotOpen` if it is not open."""
    collection = ReconciliationItem.get_pymongo_collection()
    result = await collection.update_one(
        {"item_id": item_id, "status": ItemStatus.OPEN.value},
        {
            "$set": {
                "status": ItemStatus.RESOLVED.value,
                "note": note,
                "resolved_by": actor.id,
                "closed_at": datetime.now(UTC),
            }
        },
    )
    item = await ReconciliationItem.find_one(ReconciliationItem.item_id == item_id)
    if item is None:
        raise ReconciliationItemNotFound(item_id=item_id)
    if not result.modified_count:
        raise ReconciliationItemNotOpen(item_id=item_id, status=item.status.value)
    await (audit or AuditTrail()).append(
        actor,
        "reconciliation.resolved",
        "reconciliation_item",
        item_id,
        before={"status": ItemStatus.OPEN.value},
        after={"status": ItemStatus.RESOLVED.value, "note": note},
    )
    return item


async def request_run(start: datetime, end: datetime) -> ReconciliationRun:
    """Records a run of [start, end) for the reconciler to make (status REQUESTED); a window
    asked for again while its run waits or runs is the same run. Raises `ValidationFailed`
    for an empty, reversed, future or longer-than-31-day window."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("start and end need a UTC offset", field="start")
    if not start < end <= datetime.now(UTC) + timedelta(minutes=1) or end - start > MAX_WINDOW:
        raise ValidationFailed(
            "the window must end after it starts, not in the future, within 31 days",
            field="end",
        )
    run = ReconciliationRun(
        run_id=run_id_for("manual", start, end),
        window_start=start,
        window_end=end,
        schedule="manual",
        status="REQUESTED",
    )
    try:
        await run.insert()
    except Exception as exc:
        if not is_duplicate_key(exc):
            raise
        # Asked before: a finished run is asked for again, a waiting or running one stays.
        await ReconciliationRun.get_pymongo_collection().update_one(
            {"run_id": run.run_id, "status": {"$in": ["DONE", "FAILED"]}},
            {"$set": {"status": "REQUESTED"}},
        )
        found = await ReconciliationRun.find_one(ReconciliationRun.run_id == run.run_id)
        assert found is not None
        return found
    return run


async def requested_runs(limit: int = 10) -> list[ReconciliationRun]:
    """Runs operators asked for, oldest first."""
    cursor = (
        ReconciliationRun.get_pymongo_collection()
        .find({"status": "REQUESTED"})
        .sort("started_at", 1)
        .limit(limit)
    )
    return [ReconciliationRun.model_validate(raw) async for raw in cursor]
