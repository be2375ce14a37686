"""Client idempotency keys: replay the first answer, refuse another body, hold off while busy."""

from paycore.idempotency.errors import IdempotencyKeyReused, RequestInFlight
from paycore.idempotency.store import (
    Claim,
    IdempotencyStore,
    StoredResponse,
    check_same_request,
    fingerprint,
)

__all__ = [
    "Claim",
    "IdempotencyKeyReused",
    "IdempotencyStore",
    "RequestInFlight",
    "StoredResponse",
    "check_same_request",
    "fingerprint",
]
