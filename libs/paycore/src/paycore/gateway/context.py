"""The request id sent as `x-request-id`, set once at the edge (HTTP request, message)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("gateway_request_id", default=None)


@contextmanager
def request_id_scope(request_id: str) -> Iterator[None]:
    """Gateway calls inside this block send `request_id` unless given one explicitly."""
    token = current_request_id.set(request_id)
    try:
        yield
    finally:
        current_request_id.reset(token)


def resolve_request_id(explicit: str | None) -> str:
    return explicit or current_request_id.get() or f"req_{uuid.uuid4().hex}"
