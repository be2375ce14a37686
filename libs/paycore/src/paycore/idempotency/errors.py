"""Idempotency-Key refusals (status, stable code; the docstring is the message)."""

from typing import Any

from paycore.kit.errors import Conflict, Unprocessable, ValidationFailed


class MissingIdempotencyKey(ValidationFailed, code="idempotency_key_required"):
    """This request needs an Idempotency-Key header."""


class InvalidIdempotencyKey(ValidationFailed, code="idempotency_key_invalid"):
    """The Idempotency-Key must be 1-255 characters of letters, digits and - _ . :"""


class IdempotencyKeyReused(Unprocessable, code="idempotency_key_reused"):
    """This Idempotency-Key was already used with a different request body."""


class RequestInFlight(Conflict, code="idempotency_request_in_flight"):
    """A request with this Idempotency-Key is still being processed; retry shortly."""

    def __init__(self, retry_after_seconds: int = 1, **details: Any) -> None:
        super().__init__(**details)
        self.headers["Retry-After"] = str(retry_after_seconds)
