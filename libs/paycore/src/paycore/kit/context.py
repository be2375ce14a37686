"""The ids that travel with a request or a message, for logs and outgoing headers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from loguru import logger

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
trace_id_var: ContextVar[str | None] = ContextVar("trace_id", default=None)


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def new_trace_id() -> str:
    return secrets.token_hex(16)


def trace_id_from_traceparent(traceparent: str | None) -> str | None:
    """The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`)."""
    if not traceparent:
        return None
    parts = traceparent.strip().split("-")
    if len(parts) == 4 and len(parts[1]) == 32 and parts[1] != "0" * 32:
        try:
            int(parts[1], 16)
        except ValueError:
            return None
        return parts[1].lower()
    return None


def traceparent(trace_id: str) -> str:
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


@contextmanager
def bound_ids(
    request_id: str | None, correlation_id: str | None, trace_id: str | None, **extra: Any
) -> Iterator[None]:
    """Sets the ids for this task and binds them (and any extra ids) to every log line."""
    tokens = (
        request_id_var.set(request_id),
        correlation_id_var.set(correlation_id),
        trace_id_var.set(trace_id),
    )
    try:
        with logger.contextualize(
            requestId=request_id, correlationId=correlation_id, traceId=trace_id, **extra
        ):
            yield
    finally:
        trace_id_var.reset(tokens[2])
        correlation_id_var.reset(tokens[1])
        request_id_var.reset(tokens[0])


def current_headers() -> dict[str, str]:
    """Headers that carry the current ids to the next hop (HTTP or AMQP)."""
    headers: dict[str, str] = {}
    if (request_id := request_id_var.get()) is not None:
        headers["request_id"] = request_id
    if (correlation_id := correlation_id_var.get()) is not None:
        headers["correlation_id"] = correlation_id
    if (trace_id := trace_id_var.get()) is not None:
        headers["traceparent"] = traceparent(trace_id)
    return headers
