"""Client idempotency keys: replay the first answer, refuse another body, hold off while busy."""

from paycore.idempotency.store import (
    Claim,
    IdempotencyKeyReused,
    IdempotencyStore,
    RequestInFlight,
    StoredResponse,
    fingerprint,
)

__all__ = [
    "Claim",
    "IdempotencyKeyReused",
    "IdempotencyStore",
    "RequestInFlight",
    "StoredResponse",
    "fingerprint",
]
