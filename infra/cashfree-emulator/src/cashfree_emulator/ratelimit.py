"""Per-merchant sliding one-minute window behind the `x-ratelimit-*` headers."""

import math
import time
from collections import deque
from dataclasses import dataclass

WINDOW_SECONDS = 60.0
# Reported when a merchant has no limit configured: high enough to never bind.
UNLIMITED = 100_000


@dataclass(frozen=True)
class RateStatus:
    limit: int
    remaining: int
    retry_after: int

    @property
    def breached(self) -> bool:
        return self.retry_after > 0

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-retry": str(self.retry_after),
            "x-ratelimit-type": "app_id",
        }


class RateLimiter:
    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}

    def hit(self, app_id: str, limit: int | None) -> RateStatus:
        """Count one call unless the window is full; a refused call is not counted."""
        now = time.monotonic()
        window = self._calls.setdefault(app_id, deque())
        while window and now - window[0] >= WINDOW_SECONDS:
            window.popleft()
        effective = limit or UNLIMITED
        if len(window) >= effective:
            wait = WINDOW_SECONDS - (now - window[0])
            return RateStatus(effective, 0, min(59, max(1, math.ceil(wait))))
        window.append(now)
        return RateStatus(effective, effective - len(window), 0)

    @staticmethod
    def untracked() -> RateStatus:
        return RateStatus(UNLIMITED, UNLIMITED, 0)
