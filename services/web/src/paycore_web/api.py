"""The payments-api as these pages use it: every business rule stays behind it.

Console pages call it with the signed-in merchant's bearer token; customer pages with the pay
link's token in the path (no bearer token at all)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import httpx
from paycore.kit.asgi import HttpMiddleware
from paycore.kit.context import request_id_var
from paycore.kit.http import CLIENT_IP_STATE
from starlette.types import Receive, Scope, Send

# The browser's address (as paycore.kit.client_ip resolved it), passed on to the API so that
# its per-IP limits count each customer, not these pages' own address. The API believes it
# only when its TRUSTED_PROXIES names these pages' addresses.
forwarded_for: ContextVar[str | None] = ContextVar("forwarded_for", default=None)


class ForwardClientMiddleware(HttpMiddleware):
    """Puts the resolved client address of the request into `forwarded_for`."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        address = scope.get("state", {}).get(CLIENT_IP_STATE)
        token = forwarded_for.set(address if isinstance(address, str) else None)
        try:
            await self.app(scope, receive, send)
        finally:
            forwarded_for.reset(token)


class ApiError(Exception):
    """The API's answer was an error: its status, stable code, message and details."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class ApiUnavailable(Exception):
    """The API could not be reached or timed out; nothing is known about the outcome."""


class PaymentsApi:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """The answer's `data`; raises ApiError (an error answer) or ApiUnavailable."""
        headers = {}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        request_id = request_id_var.get()
        if request_id:
            headers["x-request-id"] = request_id  # one id across the page and the API
        client = forwarded_for.get()
        if client:
            headers["x-forwarded-for"] = client
        try:
            response = await self.http.request(
                method, "/api/v1" + path, headers=headers, json=json, params=params
            )
        except httpx.TransportError as exc:
            raise ApiUnavailable(type(exc).__name__) from exc
        if response.status_code >= 500 and not _is_json(response):
            raise ApiUnavailable(f"status {response.status_code}")
        body = response.json() if _is_json(response) else {}
        if response.status_code >= 400:
            error = body.get("error") or {}
            raise ApiError(
                response.status_code,
                str(error.get("code") or "error"),
                str(error.get("message") or response.reason_phrase),
                dict(error.get("details") or {}),
            )
        return body.get("data")


def _is_json(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith("application/json")
