"""Which reconciliation windows are due: a cron-like schedule without gaps or overlaps.

- hourly: each whole hour [H, H+1h), once the hour that follows it has passed too (Cashfree's
  report for an hour is complete by then), so at 10:30 the last due window is [08:00, 09:00);
- daily: each whole UTC day, once the first hour of the next day has passed.

Windows missed while nothing ran (a deploy, an outage) are still due within the lookbacks, so a
pause delays windows and never skips them; a window whose run is DONE is never due again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from paycore.reconciliation.operations import run_id_for
from paycore.reconciliation.repository import ReconciliationRepository

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def scheduled_windows(
    now: datetime, *, hourly_lookback: int = 24, daily_lookback: int = 3
) -> list[tuple[str, datetime, datetime]]:
    """(schedule, start, end) of every window due at `now` within the lookbacks (hours,
    days), oldest first; each kind tiles time with no gap or overlap."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    last_hourly_end = hour - HOUR
    windows = [
        ("hourly", end - HOUR, end)
        for end in (last_hourly_end - HOUR * i for i in range(hourly_lookback - 1, -1, -1))
    ]
    day = hour.replace(hour=0)
    last_daily_end = day if now >= day + HOUR else day - DAY
    windows += [
        ("daily", end - DAY, end)
        for end in (last_daily_end - DAY * i for i in range(daily_lookback - 1, -1, -1))
    ]
    return windows


async def due_windows(now: datetime, **lookbacks: int) -> list[tuple[str, datetime, datetime]]:
    """The scheduled windows whose run has not finished DONE."""
    windows = scheduled_windows(now, **lookbacks)
    ids = [run_id_for(*window) for window in windows]
    done = await ReconciliationRepository().done_run_ids(ids)
    return [w for w, run_id in zip(windows, ids, strict=True) if run_id not in done]
