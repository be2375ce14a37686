"""The reconciliation schedule (hourly and daily windows without gap or overlap, each run
once) and the metrics the alerts read."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from paycore.reconciliation.engine import ReconciliationEngine
from paycore.reconciliation.models import (
    ItemStatus,
    MismatchKind,
    ReconciliationItem,
    ReconciliationRun,
)
from paycore.reconciliation.operations import run_id_for
from paycore.reconciliation.windows import due_windows, scheduled_windows
from prometheus_client import REGISTRY

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def test_hourly_windows_tile_time_up_to_the_hour_that_ended_an_hour_ago() -> None:
    now = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    hourly = [
        (s, e) for kind, s, e in scheduled_windows(now, hourly_lookback=5) if kind == "hourly"
    ]
    assert hourly[-1] == (
        datetime(2026, 12, 1, 8, tzinfo=UTC),
        datetime(2026, 12, 1, 9, tzinfo=UTC),
    )
    assert len(hourly) == 5
    assert all(e - s == HOUR for s, e in hourly)
    assert all(a[1] == b[0] for a, b in pairwise(hourly))  # no gap, no overlap


def test_a_day_is_due_an_hour_after_it_ended() -> None:
    def days(now: datetime) -> list[tuple[datetime, datetime]]:
        return [
            (s, e) for kind, s, e in scheduled_windows(now, daily_lookback=2) if kind == "daily"
        ]

    midnight = datetime(2026, 12, 1, tzinfo=UTC)
    assert days(midnight + timedelta(minutes=59))[-1] == (midnight - 2 * DAY, midnight - DAY)
    assert days(midnight + HOUR)[-1] == (midnight - DAY, midnight)
    assert days(midnight + HOUR)[0] == (midnight - 2 * DAY, midnight - DAY)


async def test_a_window_whose_run_is_done_is_not_due_again() -> None:
    now = datetime.now(UTC)
    windows = await due_windows(now, hourly_lookback=2, daily_lookback=1)
    schedule, start, end = windows[0]
    await ReconciliationRun(
        run_id=run_id_for(schedule, start, end),
        window_start=start,
        window_end=end,
        schedule=schedule,
        status="DONE",
    ).insert()
    failed = windows[1]
    await ReconciliationRun(
        run_id=run_id_for(*failed),
        window_start=failed[1],
        window_end=failed[2],
        schedule=failed[0],
        status="FAILED",
    ).insert()

    assert await due_windows(now, hourly_lookback=2, daily_lookback=1) == windows[1:]


async def test_the_metrics_come_from_the_database() -> None:
    finished = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    await ReconciliationRun(
        run_id="rec_daily_x",
        window_start=finished - DAY,
        window_end=finished - HOUR,
        schedule="daily",
        status="DONE",
        finished_at=finished,
    ).insert()
    for index, status in enumerate((ItemStatus.OPEN, ItemStatus.OPEN, ItemStatus.CLOSED)):
        await ReconciliationItem(
            item_id=f"MISSING_HERE:ord_{index}",
            run_id="rec_daily_x",
            kind=MismatchKind.MISSING_HERE,
            status=status,
            order_id=f"ord_{index}",
        ).insert()

    await ReconciliationEngine(gateway=None).refresh_gauges()  # type: ignore[arg-type]

    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    assert sample("paycore_reconciliation_items_open", kind="MISSING_HERE") == 2
    assert sample("paycore_reconciliation_items_open", kind="SETTLEMENT_AMOUNT") == 0
    last = sample("paycore_reconciliation_last_success_timestamp_seconds", schedule="daily")
    assert last == finished.timestamp()
