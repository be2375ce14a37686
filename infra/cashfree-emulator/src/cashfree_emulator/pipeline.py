"""What every `/pg` call goes through: version, auth, rate limit, faults, idempotency, log.

Handlers are plain functions (no awaits), so each call's check-then-write on the state is
atomic on the event loop; only fault sleeps await, and never between a check and a write.
"""

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cashfree_emulator.emulator import Emulator
from cashfree_emulator.errors import CashfreeError
from cashfree_emulator.faults import MUTATING_OPERATIONS
from cashfree_emulator.ratelimit import RateLimiter
from cashfree_emulator.records import IdempotentReply
from cashfree_emulator.schemas import ApiCall, Fault, FaultKind, MerchantConfig
from cashfree_emulator.wire import InvalidJson, JsonValue, dumps, iso, loads, now_ist

API_VERSIONS = frozenset({"2023-08-01", "2025-01-01", "2026-01-01"})


@dataclass(frozen=True)
class ApiContext:
    emulator: Emulator
    merchant: MerchantConfig
    version: str
    body: JsonValue
    path_params: dict[str, str]

    @property
    def app_id(self) -> str:
        return self.merchant.app_id


@dataclass(frozen=True)
class ApiReply:
    status: int
    body: str


Handler = Callable[[ApiContext], JsonValue]


class EmulatedDisconnect(Exception):
    """Raised after a response has started, which makes uvicorn close the connection."""


class QuietDisconnects(logging.Filter):
    """Keep uvicorn from logging a traceback for every deliberately dropped connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], EmulatedDisconnect))


class DroppedConnection(Response):
    """Start a response, then abort: the client sees the connection die without an answer."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"cf_order_id":', "more_body": True})
        raise EmulatedDisconnect("emulated fault: connection dropped")


def emulator_of(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def api_endpoint(operation: str, handler: Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return await _run(request, operation, handler)

    endpoint.__name__ = operation
    return endpoint


async def _run(request: Request, operation: str, handler: Handler) -> Response:
    emulator = emulator_of(request)
    raw = await request.body()
    headers = request.headers
    version = headers.get("x-api-version")
    idempotency_key = headers.get("x-idempotency-key")
    mutating = operation in MUTATING_OPERATIONS
    merchant: MerchantConfig | None = None
    rate = RateLimiter.untracked()
    fault: Fault | None = None
    replayed = False
    try:
        merchant = _authenticate(
            emulator, headers.get("x-client-id"), headers.get("x-client-secret")
        )
        _check_version(version)
        rate = emulator.rate_limiter.hit(merchant.app_id, merchant.rate_limit_per_minute)
        if rate.breached:
            raise _rate_limited(rate.retry_after)
        fault = emulator.faults.take_api_fault(merchant.app_id, operation)
        if fault is not None and fault.kind is FaultKind.API_SLOW:
            await asyncio.sleep(fault.seconds)
        elif fault is not None and fault.kind is not FaultKind.RESPONSE_LOST:
            if fault.kind is FaultKind.API_TIMEOUT:
                _log(emulator, request, operation, merchant, raw, None, False, fault)
                await asyncio.sleep(fault.seconds)
                return DroppedConnection()
            raise _injected_error(fault)
        context = ApiContext(
            emulator, merchant, str(version), _parse(raw), dict(request.path_params)
        )
        if mutating and idempotency_key:
            reply, replayed = _idempotent(
                emulator, context, operation, idempotency_key, raw, handler
            )
        else:
            reply = _execute(context, handler)
    except CashfreeError as error:
        reply = ApiReply(error.status, dumps(error.body()))
        extra_headers = error.headers
    else:
        extra_headers = {}
    _log(emulator, request, operation, merchant, raw, reply.status, replayed, fault)
    if fault is not None and fault.kind is FaultKind.RESPONSE_LOST and not replayed:
        # The call was executed (state changed); the answer never reaches the client.
        await asyncio.sleep(fault.seconds)
        return DroppedConnection()
    response_headers = {
        **rate.headers(),
        "x-api-version": version or "",
        "x-request-id": headers.get("x-request-id", ""),
        "x-idempotency-replayed": "true" if replayed else "false",
        **extra_headers,
    }
    if idempotency_key:
        response_headers["x-idempotency-key"] = idempotency_key
    return Response(
        reply.body, reply.status, headers=response_headers, media_type="application/json"
    )


def _authenticate(
    emulator: Emulator, client_id: str | None, client_secret: str | None
) -> MerchantConfig:
    merchant = emulator.store.merchants.get(client_id or "")
    if merchant is None or merchant.secret_key != client_secret:
        raise CashfreeError(401, "request_failed", "authentication Failed")
    return merchant


def _check_version(version: str | None) -> None:
    if not version:
        raise CashfreeError(400, "request_failed", "version is missing in header")
    if version not in API_VERSIONS:
        raise CashfreeError(400, "version_invalid", "x-api-version : version is not valid")


def _rate_limited(retry_after: int) -> CashfreeError:
    return CashfreeError(
        429,
        "request_failed",
        "Too many requests from app_id. Check headers",
        headers={"x-ratelimit-retry": str(retry_after), "x-ratelimit-remaining": "0"},
    )


def _injected_error(fault: Fault) -> CashfreeError:
    if fault.kind is FaultKind.API_429:
        return _rate_limited(fault.retry_after_seconds)
    if fault.kind is FaultKind.API_502:
        return CashfreeError(
            502, "bank_processing_failure", "bank processing failure, please retry later"
        )
    return CashfreeError(500, "internal_error", "internal server error, please retry later")


def _parse(raw: bytes) -> JsonValue:
    if not raw.strip():
        return None
    try:
        return loads(raw)
    except InvalidJson:
        raise CashfreeError(400, "request_failed", "request body is not valid JSON") from None


def _execute(context: ApiContext, handler: Handler) -> ApiReply:
    return ApiReply(200, dumps(handler(context)))


def _idempotent(
    emulator: Emulator,
    context: ApiContext,
    operation: str,
    key: str,
    raw: bytes,
    handler: Handler,
) -> tuple[ApiReply, bool]:
    """Same key + same request → the stored reply; same key + another request → 422."""
    fingerprint = hashlib.sha256(
        f"{operation}\n{context.path_params}\n".encode() + _canonical(context.body)
    ).hexdigest()
    slot = (context.app_id, key)
    stored = emulator.store.idempotency.get(slot)
    if stored is not None:
        if stored.fingerprint != fingerprint:
            raise CashfreeError(
                422,
                "idempotency_error",
                "request with the same idempotency key has a different body",
            )
        return ApiReply(stored.status, stored.body), True
    try:
        reply = _execute(context, handler)
    except CashfreeError as error:
        reply = ApiReply(error.status, dumps(error.body()))
    # Server errors are not remembered, so a retry runs the call again.
    if reply.status < 500 and reply.status != 429:
        emulator.store.idempotency[slot] = IdempotentReply(
            operation, fingerprint, reply.status, reply.body
        )
    return reply, False


def _canonical(body: JsonValue) -> bytes:
    if isinstance(body, dict):
        return dumps({k: body[k] for k in sorted(body)}).encode()
    return dumps(body).encode()


def _log(
    emulator: Emulator,
    request: Request,
    operation: str,
    merchant: MerchantConfig | None,
    raw: bytes,
    status: int | None,
    replayed: bool,
    fault: Fault | None,
) -> None:
    store = emulator.store
    store.calls.append(
        ApiCall(
            id=store.next_record_id(),
            app_id=merchant.app_id if merchant else None,
            method=request.method,
            path=request.url.path,
            operation=operation,
            idempotency_key=request.headers.get("x-idempotency-key"),
            request_id=request.headers.get("x-request-id"),
            status=status,
            replayed=replayed,
            fault=fault.kind.value if fault else None,
            body=raw.decode(errors="replace"),
            at=iso(now_ist()) or "",
        )
    )
