"""The `x-request-id` of a gateway call: the caller's, else the current request's, else new."""

from __future__ import annotations

from paycore.kit.context import new_request_id, request_id_var


def resolve_request_id(explicit: str | None) -> str:
    # The edge (HTTP middleware, message consumer) sets request_id_var via kit.context.bound_ids.
    return explicit or request_id_var.get() or new_request_id()
