"""What operators do with reconciliation, from the admin API or the reconciler's CLI: resolve
an open item with a note, and ask for a run of a window (the reconciler runs it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paycore.audit.models import Actor
from paycore.audit.trail import AuditTrail
from paycore.kit.errors import ValidationFailed
from paycore.reconciliation.errors import ReconciliationItemNotFound, ReconciliationItemNotOpen
from paycore.reconciliation.models import ItemStatus, ReconciliationItem, ReconciliationRun
from paycore.reconciliation.repository import ReconciliationRepository

MAX_WINDOW = timedelta(days=31)


def run_id_for(schedule: str, start: datetime, end: datetime) -> str:
    """One id per window and schedule, so a window's run is resumed rather than repeated."""
    return f"rec_{schedule}_{start:%Y%m%dT%H%M%S}_{end:%Y%m%dT%H%M%S}"


async def resolve_item(
    item_id: str, note: str, actor: Actor, audit: AuditTrail | None = None
) -> ReconciliationItem:
    """Closes an open item with the operator's note (audited). Raises
    `ReconciliationItemNotFound`, or `ReconciliationItemNotOpen` if it is not open."""
    repository = ReconciliationRepository()
    resolved = await repository.resolve(item_id, note, actor.id, datetime.now(UTC))
    item = await repository.get_item(item_id)
    if item is None:
        raise ReconciliationItemNotFound(item_id=item_id)
    if not resolved:
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


def check_window(start: datetime, end: datetime) -> None:
    """Raises `ValidationFailed` unless [start, end) is a window a run can cover: both with a
    UTC offset, end after start, not in the future, at most 31 days."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("start and end need a UTC offset", field="start")
    if not start < end <= datetime.now(UTC) + timedelta(minutes=1) or end - start > MAX_WINDOW:
        raise ValidationFailed(
            "the window must end after it starts, not in the future, within 31 days",
            field="end",
        )


async def request_run(start: datetime, end: datetime) -> ReconciliationRun:
    """Records a run of [start, end) for the reconciler to make (status REQUESTED); a window
    asked for again while its run waits or runs is the same run. Raises `ValidationFailed`
    for an empty, reversed, future or longer-than-31-day window (`check_window`)."""
    check_window(start, end)
    repository = ReconciliationRepository()
    run = ReconciliationRun(
        run_id=run_id_for("manual", start, end),
        window_start=start,
        window_end=end,
        schedule="manual",
        status="REQUESTED",
    )
    stored = await repository.insert_run(run)
    if stored is run:
        return run
    await repository.ask_again(run.run_id)
    found = await repository.get_run(run.run_id)
    assert found is not None
    return found


async def latest_runs(limit: int) -> tuple[list[ReconciliationRun], list[ReconciliationItem]]:
    """The latest `limit` runs, newest first, and the items they found (the admin's view)."""
    repository = ReconciliationRepository()
    runs = await repository.latest_runs(limit)
    return runs, await repository.items_of([run.run_id for run in runs])


async def find_items(
    *, run_id: str | None, status: str | None, kind: str | None, limit: int
) -> list[ReconciliationItem]:
    """Items by run (found first or again by it), status and kind, grouped by kind."""
    return await ReconciliationRepository().find_items(
        run_id=run_id, status=status, kind=kind, limit=limit
    )


async def count_items(*, run_id: str | None, status: str | None, kind: str | None) -> int:
    """How many items `find_items` would list without its limit."""
    return await ReconciliationRepository().count_items(run_id=run_id, status=status, kind=kind)
