"""The Cashfree PG client every service uses: one instance (one connection pool) per process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Literal, Self, TypeVar
from urllib.parse import quote

import httpx
from loguru import logger
from pydantic import BaseModel, ValidationError

from paycore.gateway import models as cf
from paycore.gateway.context import resolve_request_id
from paycore.gateway.errors import (
    GatewayConflict,
    GatewayError,
    GatewayInvalidResponse,
    GatewayNotFound,
    GatewayOutcomeUnknown,
    GatewayValidationError,
    error_for_response,
)
from paycore.gateway.mapping import (
    order_from,
    order_request_body,
    payment_from,
    recon_page_from,
    recon_request_body,
    refund_from,
    refund_request_body,
    settlement_from,
    settlement_page_from,
    settlements_request_body,
)
from paycore.gateway.metrics import GATEWAY_CALL_DURATION, GATEWAY_CALLS, GATEWAY_RETRIES
from paycore.gateway.retry import RetryPolicy
from paycore.gateway.schemas import (
    GatewayOrder,
    GatewayOrderRequest,
    GatewayPayment,
    GatewayReconPage,
    GatewayReconQuery,
    GatewayRefund,
    GatewayRefundRequest,
    GatewaySettlement,
    GatewaySettlementPage,
    GatewaySettlementQuery,
)
from paycore.gateway.transport import AiohttpTransport, Answer, HttpxTransport, Transport
from paycore.kit.errors import InvalidAmount, UnknownCurrency
from paycore.kit.metrics import series
from paycore.kit.settings import CashfreeSettings
from paycore.money import dump_json, load_json

W = TypeVar("W", bound=BaseModel)
T = TypeVar("T")
Created = TypeVar("Created", GatewayOrder, GatewayRefund)

# Cashfree answers a duplicate create with 409, or (refunds, per its notes) with a 400 code.
_ALREADY_EXISTS_CODES: Final = frozenset({"order_already_exists", "refund_id_already_exists"})
_CONNECT_TIMEOUT_CAP: Final = 5.0

# Cashfree PG endpoints (docs/cashfree-pg-api.md): operation -> (HTTP method, path under the
# base URL). A `{name}` in a path is filled with that id, percent-encoded.
_ROUTES: Final[dict[str, tuple[str, str]]] = {
    "create_order": ("POST", "orders"),
    "get_order": ("GET", "orders/{order_id}"),
    "terminate_order": ("PATCH", "orders/{order_id}"),
    "list_payments": ("GET", "orders/{order_id}/payments"),
    "get_payment": ("GET", "orders/{order_id}/payments/{payment_id}"),
    "create_refund": ("POST", "orders/{order_id}/refunds"),
    "get_refund": ("GET", "orders/{order_id}/refunds/{refund_id}"),
    "list_refunds": ("GET", "orders/{order_id}/refunds"),
    "list_settlements": ("POST", "settlements"),
    "get_order_settlements": ("GET", "orders/{order_id}/settlements"),
    "settlement_recon": ("POST", "settlement/recon"),
    "pg_recon": ("POST", "recon"),
}
# POSTs that only read (the query is the body): as safe to repeat as a GET.
_QUERIES: Final = frozenset({"list_settlements", "settlement_recon", "pg_recon"})


class CashfreeGateway:
    """The payment gateway (`PaymentGateway`) over Cashfree's PG REST API (async; sent with
    aiohttp, or through `transport`, an httpx transport, when given: see `transport.py`).

    Amounts are minor units and statuses ours (`schemas`). Mutating calls take the caller's
    idempotency key (`schemas.idempotency_key`): repeating a call with the same key never
    creates a second order or refund. Failures raise `GatewayError` subclasses (`errors`)."""

    def __init__(
        self,
        settings: CashfreeSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._retry = retry_policy or RetryPolicy(max_retries=settings.cashfree_max_retries)
        self._sleep = sleep
        self._base_url = settings.cashfree_url + "/"
        timeout = settings.cashfree_timeout_seconds
        connect_timeout = min(timeout, _CONNECT_TIMEOUT_CAP)
        headers = {
            "x-client-id": settings.cashfree_app_id,
            "x-client-secret": settings.cashfree_secret_key.get_secret_value(),
            "x-api-version": settings.cashfree_api_version,
            "accept": "application/json",
        }
        self._transport: Transport = (
            AiohttpTransport(headers, timeout, connect_timeout)
            if transport is None
            else HttpxTransport(transport, headers, timeout, connect_timeout)
        )

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- orders ---------------------------------------------------------------------------

    async def create_order(
        self, request: GatewayOrderRequest, *, idempotency_key: str, request_id: str | None = None
    ) -> GatewayOrder:
        """Creates the order, or returns it if it already exists with the same amount."""
        body = order_request_body(request)
        ids = {"order_id": request.order_id}
        return await self._create_once(
            "order", cf.CfOrder, order_from, body, request, idempotency_key, request_id, ids
        )

    async def get_order(self, order_id: str, *, request_id: str | None = None) -> GatewayOrder:
        return await self._call("get_order", cf.CfOrder, order_from, request_id, order_id=order_id)

    async def terminate_order(
        self, order_id: str, *, idempotency_key: str, request_id: str | None = None
    ) -> GatewayOrder:
        body, key = cf.CfTerminateOrderRequest(), idempotency_key
        return await self._call(
            "terminate_order", cf.CfOrder, order_from, request_id, body, key, order_id=order_id
        )

    # --- payments -------------------------------------------------------------------------

    async def list_payments(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[GatewayPayment]:
        payload = await self._send("list_payments", request_id, order_id=order_id)
        return _read_each(cf.CfPayment, _items(payload), lambda wire: payment_from(wire, order_id))

    async def get_payment(
        self, order_id: str, gateway_payment_id: str, *, request_id: str | None = None
    ) -> GatewayPayment:
        return await self._call(
            "get_payment",
            cf.CfPayment,
            lambda wire: payment_from(wire, order_id),
            request_id,
            order_id=order_id,
            payment_id=gateway_payment_id,
        )

    # --- refunds --------------------------------------------------------------------------

    async def create_refund(
        self, request: GatewayRefundRequest, *, idempotency_key: str, request_id: str | None = None
    ) -> GatewayRefund:
        """Creates the refund, or returns it if it already exists with the same amount."""
        body = refund_request_body(request)
        ids = {"order_id": request.order_id, "refund_id": request.refund_id}
        return await self._create_once(
            "refund", cf.CfRefund, refund_from, body, request, idempotency_key, request_id, ids
        )

    async def get_refund(
        self, order_id: str, refund_id: str, *, request_id: str | None = None
    ) -> GatewayRefund:
        return await self._call(
            "get_refund",
            cf.CfRefund,
            refund_from,
            request_id,
            order_id=order_id,
            refund_id=refund_id,
        )

    async def list_refunds(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[GatewayRefund]:
        payload = await self._send("list_refunds", request_id, order_id=order_id)
        return _read_each(cf.CfRefund, _items(payload), refund_from)

    # --- settlements and reconciliation ---------------------------------------------------

    async def list_settlements(
        self, query: GatewaySettlementQuery, *, request_id: str | None = None
    ) -> GatewaySettlementPage:
        body = settlements_request_body(query)
        return await self._call(
            "list_settlements", cf.CfSettlementPage, settlement_page_from, request_id, body
        )

    async def get_order_settlements(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[GatewaySettlement]:
        page = await self._call(
            "get_order_settlements", cf.CfSettlementPage, _as_is, request_id, order_id=order_id
        )
        return _read_each(cf.CfSettlement, page.data, settlement_from)

    async def settlement_recon(
        self, query: GatewaySettlementQuery, *, request_id: str | None = None
    ) -> GatewayReconPage:
        body = settlements_request_body(query)
        return await self._call(
            "settlement_recon", cf.CfReconPage, recon_page_from, request_id, body
        )

    async def pg_recon(
        self, query: GatewayReconQuery, *, request_id: str | None = None
    ) -> GatewayReconPage:
        body = recon_request_body(query)
        return await self._call("pg_recon", cf.CfReconPage, recon_page_from, request_id, body)

    # --- transport ------------------------------------------------------------------------

    async def _create_once(
        self,
        kind: Literal["order", "refund"],
        model: type[W],
        convert: Callable[[W], Created],
        body: BaseModel,
        asked: GatewayOrderRequest | GatewayRefundRequest,
        idempotency_key: str,
        request_id: str | None,
        ids: dict[str, str],
    ) -> Created:
        """Creates an order or a refund (`kind`) once. After "already exists" (409) or a lost
        answer, the one at the gateway is returned if it is ours (same amount and currency, else
        `GatewayConflict`: never someone else's under our id); if it is not there the original
        failure stands, and "exists" yet not found is an unknown outcome, never a refusal."""
        request_id = resolve_request_id(request_id)
        own_id: dict[str, Any] = {f"{kind}_id": ids[f"{kind}_id"]}  # named in the errors
        try:
            return await self._call(
                f"create_{kind}", model, convert, request_id, body, idempotency_key, **ids
            )
        except GatewayError as error:
            if not _means_already_exists(error) and not isinstance(error, GatewayOutcomeUnknown):
                raise
            existing: Created | None = None
            try:
                existing = await self._call(f"get_{kind}", model, convert, request_id, **ids)
            except GatewayNotFound:
                pass  # e.g. 409 refund_not_allowed: none of ours exists
            except GatewayError:
                if not isinstance(error, GatewayOutcomeUnknown):
                    raise
            if existing is None:
                if isinstance(error, GatewayOutcomeUnknown) or not _says_exists(error):
                    raise  # not there: the original failure stands (a refusal is one)
                raise GatewayOutcomeUnknown(
                    f"the gateway says the {kind} exists but does not find it",
                    gateway_code=error.gateway_code,
                    **own_id,
                ) from error
            if (existing.amount_minor, existing.currency) != (asked.amount_minor, asked.currency):
                raise GatewayConflict(
                    f"{kind} id exists at the gateway with another amount or currency", **own_id
                ) from error
            logger.bind(operation=f"create_{kind}", after=error.code).info(
                f"gateway {kind} already exists"
            )
            return existing

    async def _call(
        self,
        operation: str,
        model: type[W],
        convert: Callable[[W], T],
        request_id: str | None,
        body: BaseModel | None = None,
        idempotency_key: str | None = None,
        /,
        **ids: str,
    ) -> T:
        """`_send`, then the answer read as `model` and mapped to our type by `convert`."""
        payload = await self._send(operation, request_id, body, idempotency_key, **ids)
        return _read(model, payload, convert)

    async def _send(
        self,
        operation: str,
        request_id: str | None,
        body: BaseModel | None = None,
        idempotency_key: str | None = None,
        /,
        **ids: str,
    ) -> object:
        """One logical call of `operation` (a `_ROUTES` key, `ids` filled into its path):
        attempts with bounded, jittered retries where repeating is safe; the JSON answer."""
        method, route = _ROUTES[operation]
        path = route.format_map({name: quote(value, safe="") for name, value in ids.items()})
        headers = {"x-request-id": resolve_request_id(request_id)}
        if idempotency_key is not None:
            headers["x-idempotency-key"] = idempotency_key
        content = None
        if body is not None:
            headers["content-type"] = "application/json"
            content = dump_json(body.model_dump(exclude_none=True))
        # Reads never change anything; a write repeated with the same key is replayed, not redone.
        repeat_is_safe = method == "GET" or operation in _QUERIES or idempotency_key is not None
        attempt = 0
        while True:
            try:
                return await self._attempt(operation, method, path, headers, content)
            except GatewayError as error:
                if not self._retry.should_retry(error, attempt, repeat_is_safe=repeat_is_safe):
                    raise
                delay = self._retry.delay(error, attempt)
                logger.bind(
                    operation=operation,
                    attempt=attempt + 1,
                    error=error.code,
                    delay=round(delay, 3),
                ).warning("gateway call retrying")
                GATEWAY_RETRIES.labels(operation).inc()
                await self._sleep(delay)
                attempt += 1

    async def _attempt(
        self,
        operation: str,
        method: str,
        path: str,
        headers: dict[str, str],
        content: bytes | None,
    ) -> object:
        outcome = "ok"
        started = time.perf_counter()
        try:
            answer = await self._transport.send(method, self._base_url + path, headers, content)
            payload = _payload(answer)
            if not answer.is_success:
                raise error_for_response(answer.status, payload, retry_after=_retry_after(answer))
            if payload is None:
                raise GatewayInvalidResponse("cashfree answered without a JSON body")
            return payload
        except GatewayError as error:
            outcome = error.code
            raise
        finally:
            series(GATEWAY_CALLS, operation, outcome).inc()
            series(GATEWAY_CALL_DURATION, operation).observe(time.perf_counter() - started)


def _means_already_exists(error: GatewayError) -> bool:
    if isinstance(error, GatewayConflict):
        return True
    return isinstance(error, GatewayValidationError) and error.gateway_code in _ALREADY_EXISTS_CODES


def _says_exists(error: GatewayError) -> bool:
    """The gateway said the resource exists: a known code, or a 409 naming no other reason."""
    code = error.gateway_code
    return code in _ALREADY_EXISTS_CODES or (
        isinstance(error, GatewayConflict) and (code is None or "exist" in code)
    )


def _payload(answer: Answer) -> object:
    if not answer.content:
        return None
    try:
        return load_json(answer.content)
    except ValueError:
        if answer.is_success:
            raise GatewayInvalidResponse("cashfree answered with invalid JSON") from None
        return None  # an error page from a proxy: the status code still says enough


def _retry_after(answer: Answer) -> float | None:
    raw = answer.headers.get("x-ratelimit-retry") or answer.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _as_is(wire: W) -> W:
    return wire


def _items(payload: object) -> list[object]:
    # Spec: a JSON array. A single object is read as a list of one rather than refused.
    if isinstance(payload, list):
        return payload
    return [payload]


def _read(model: type[W], payload: object, convert: Callable[[W], T]) -> T:
    """Validates a wire payload and maps it to our type; unreadable means invalid response."""
    try:
        return convert(model.model_validate(payload))
    except (ValidationError, InvalidAmount, UnknownCurrency) as exc:
        raise GatewayInvalidResponse(
            f"cashfree answer does not match {model.__name__}", model=model.__name__
        ) from exc


def _read_each(model: type[W], payloads: Sequence[object], convert: Callable[[W], T]) -> list[T]:
    return [_read(model, payload, convert) for payload in payloads]
