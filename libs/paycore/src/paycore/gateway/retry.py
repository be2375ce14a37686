"""When a failed gateway attempt may be repeated, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from paycore.gateway.errors import (
    GatewayError,
    GatewayRateLimited,
    GatewayServerError,
    GatewayTimeout,
    GatewayUnavailable,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with full jitter: wait uniform(0, min(max_delay, base * 2**n))."""

    max_retries: int = 2
    base_delay: float = 0.2
    max_delay: float = 2.0
    # A 429 asking for a longer wait is handed to the caller (queue delay), not slept on.
    max_rate_limit_wait: float = 5.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def should_retry(self, error: GatewayError, attempt: int, *, repeat_is_safe: bool) -> bool:
        """`attempt` counts from 0. `repeat_is_safe`: a read, or a write with an idempotency key."""
        if attempt >= self.max_retries:
            return False
        if isinstance(error, GatewayUnavailable):
            return True  # nothing reached the gateway
        if isinstance(error, GatewayRateLimited):
            return repeat_is_safe and error.retry_after <= self.max_rate_limit_wait
        if isinstance(error, GatewayServerError | GatewayTimeout):
            # A timed-out write may have been acted on: only the same key makes repeating safe.
            return repeat_is_safe
        return False

    def delay(self, error: GatewayError, attempt: int) -> float:
        if isinstance(error, GatewayRateLimited):
            return error.retry_after + self.rng.uniform(0, self.base_delay)
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return self.rng.uniform(0, ceiling)
