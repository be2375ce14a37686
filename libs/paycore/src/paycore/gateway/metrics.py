"""Gateway call metrics; labels are bounded (operation, outcome), never ids."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

GATEWAY_CALLS: Final = Counter(
    "paycore_gateway_calls",
    "Gateway HTTP attempts by operation and outcome (ok or the error code).",
    ["operation", "outcome"],
)
GATEWAY_CALL_DURATION: Final = Histogram(
    "paycore_gateway_call_duration_seconds",
    "Duration of one gateway HTTP attempt.",
    ["operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
GATEWAY_RETRIES: Final = Counter(
    "paycore_gateway_retries",
    "Gateway attempts repeated after a retryable failure.",
    ["operation"],
)
