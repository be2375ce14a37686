"""When to ask the gateway again about a record whose counterpart can still change.

A record (a payment whose order is open, a refund whose outcome is unknown) carries a `Recheck`:
when it is next due, how many checks its current phase has had, and the last check's failure.
The janitor takes due records oldest first and moves each one's due time along its `Backoff`,
so a record nobody can settle is asked less and less often instead of every pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class Backoff:
    """Delays (seconds) before the 1st, 2nd, ... check of a phase; after the last, `then`
    repeats, or the checks stop when `then` is None."""

    steps: tuple[float, ...]
    then: float | None

    def delay(self, checks_done: int) -> timedelta | None:
        if checks_done < len(self.steps):
            return timedelta(seconds=self.steps[checks_done])
        return None if self.then is None else timedelta(seconds=self.then)


# An open order: 1 min, 5 min, 30 min, then hourly until the gateway closes it (expiry).
OPEN_ORDER = Backoff((60, 300, 1800), then=3600)
# A payment closed unpaid (failed, expired, cancelled) whose order may still turn paid (a late
# capture): after 1 h, then daily for three days, then never again.
CLOSED_UNPAID = Backoff((3600, 86_400, 86_400, 86_400), then=None)
# A refund whose outcome is unknown: 5 min, 1 h, then daily (`unknown_refund` scales it).
UNKNOWN_REFUND = Backoff((300, 3600), then=86_400)


def unknown_refund(first_poll_seconds: float) -> Backoff:
    """The unknown-refund backoff starting at `first_poll_seconds` (300 s: 5 min, 1 h, daily),
    the same proportions at any scale."""
    scale = first_poll_seconds / UNKNOWN_REFUND.steps[0]
    assert UNKNOWN_REFUND.then is not None
    return Backoff(
        tuple(step * scale for step in UNKNOWN_REFUND.steps), then=UNKNOWN_REFUND.then * scale
    )


def first_check(backoff: Backoff = OPEN_ORDER) -> datetime:
    return datetime.now(UTC) + (backoff.delay(0) or timedelta(0))


class Recheck(BaseModel):
    """The janitor's schedule for one record (stored on the record)."""

    due_at: datetime | None = Field(default_factory=first_check)  # None: nothing left to ask
    phase: str = "OPEN"  # which Backoff applies (a status family, e.g. OPEN or CLOSED_UNPAID)
    checks: int = 0  # checks made in this phase
    last_checked_at: datetime | None = None
    last_error: str | None = None  # the last check's failure; retried on the schedule

    def after_check(
        self, phase: str, backoff: Backoff, now: datetime, error: str | None = None
    ) -> Recheck:
        """The schedule after a check made at `now` that left the record in `phase`."""
        checks = self.checks + 1 if phase == self.phase else 1
        delay = backoff.delay(checks)
        if phase != self.phase:
            # A new phase starts its own schedule from its first step.
            delay = backoff.delay(0)
            checks = 0
        return Recheck(
            due_at=None if delay is None else now + delay,
            phase=phase,
            checks=checks,
            last_checked_at=now,
            last_error=error,
        )
