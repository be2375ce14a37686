"""The Cashfree PG client every service uses: one instance (one connection pool) per process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar
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
    GatewayTimeout,
    GatewayUnavailable,
    GatewayValidationError,
    error_for_response,
)
from paycore.gateway.interface import PaymentGateway
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
from paycore.kit.errors import InvalidAmount, UnknownCurrency
from paycore.kit.settings import CashfreeSettings
from paycore.money import dump_json, load_json

W = TypeVar("W", bound=BaseModel)
T = TypeVar("T")

# Cashfree answers a duplicate create with 409, or (refunds, per its notes) with a 400 code.
_ALREADY_EXISTS_CODES: Final = frozenset({"order_already_exists", "refund_id_already_exists"})
_CONNECT_TIMEOUT_CAP: Final = 5.0


class CashfreeGateway:
    """`PaymentGateway` over Cashfree's PG REST API (httpx, async)."""

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
        timeout = settings.cashfree_timeout_seconds
        self._client = httpx.AsyncClient(
            base_url=settings.cashfree_url + "/",
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, _CONNECT_TIMEOUT_CAP)),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            headers={
                "x-client-id": settings.cashfree_app_id,
                "x-client-secret": settings.cashfree_secret_key.get_secret_value(),
                "x-api-version": settings.cashfree_api_version,
                "accept": "application/json",
            },
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- orders ---------------------------------------------------------------------------

    async def create_order(
        self, request: GatewayOrderRequest, *, idempotency_key: str, request_id: str | None = None
    ) -> GatewayOrder:
        request_id = resolve_request_id(request_id)

        async def create() -> GatewayOrder:
            payload = await self._send(
                "create_order",
                "POST",
                "orders",
                body=order_request_body(request),
                idempotency_key=idempotency_key,
                request_id=request_id,
            )
            return _read(cf.CfOrder, payload, order_from)

        return await _create_once(
            "order",
            create,
            lambda: self.get_order(request.order_id, request_id=request_id),
            (request.amount_minor, request.currency),
            order_id=request.order_id,
        )

    async def get_order(self, order_id: str, *, request_id: str | None = None) -> GatewayOrder:
        payload = await self._send(
            "get_order", "GET", f"orders/{_segment(order_id)}", request_id=request_id
        )
        return _read(cf.CfOrder, payload, order_from)

    async def terminate_order(
        self, order_id: str, *, idempotency_key: str, request_id: str | None = None
    ) -> GatewayOrder:
        payload = await self._send(
            "terminate_order",
            "PATCH",
            f"orders/{_segment(order_id)}",
            body=cf.CfTerminateOrderRequest(),
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return _read(cf.CfOrder, payload, order_from)

    # --- payments -------------------------------------------------------------------------

    async def list_payments(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[GatewayPayment]:
        payload = await self._send(
            "list_payments", "GET", f"orders/{_segment(order_id)}/payments", request_id=request_id
        )
        return [
            _read(cf.CfPayment, item, lambda wire: payment_from(wire, order_id))
            for item in _items(payload)
        ]

    async def get_payment(
        self, order_id: str, gateway_payment_id: str, *, request_id: str | None = None
    ) -> GatewayPayment:
        path = f"orders/{_segment(order_id)}/payments/{_segment(gateway_payment_id)}"
        payload = await self._send("get_payment", "GET", path, request_id=request_id)
        return _read(cf.CfPayment, payload, lambda wire: payment_from(wire, order_id))

    # --- refunds --------------------------------------------------------------------------

    async def create_refund(
        self, request: GatewayRefundRequest, *, idempotency_key: str, request_id: str | None = None
    ) -> GatewayRefund:
        request_id = resolve_request_id(request_id)

        async def create() -> GatewayRefund:
            payload = await self._send(
                "create_refund",
                "POST",
                f"orders/{_segment(request.order_id)}/refunds",
                body=refund_request_body(request),
                idempotency_key=idempotency_key,
                request_id=request_id,
            )
            return _read(cf.CfRefund, payload, refund_from)

        return await _create_once(
            "refund",
            create,
            lambda: self.get_refund(request.order_id, request.refund_id, request_id=request_id),
            (request.amount_minor, request.currency),
            refund_id=request.refund_id,
        )

    async def get_refund(
        self, order_id: str, refund_id: str, *, request_id: str | None = None
    ) -> GatewayRefund:
        path = f"orders/{_segment(order_id)}/refunds/{_segment(refund_id)}"
        payload = await self._send("get_refund", "GET", path, request_id=request_id)
        return _read(cf.CfRefund, payload, refund_from)

    async def list_refunds(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[GatewayRefund]:
        payload = await self._send(
            "list_refunds", "GET", f"orders/{_segment(order_id)}/refunds", request_id=request_id
        )
        return [_read(cf.CfRefund, item, refund_from) for item in _items(payload)]

    # --- settlements and reconciliation ---------------------------------------------------

    async def list_settlements(
        self, query: GatewaySettlementQuery, *, request_id: str | None = None
    ) -> GatewaySettlementPage:
        payload = await self._send(
            "list_settlements",
            "POST",
            "settlements",
            body=settlements_request_body(query),
            request_id=request_id,
            read_only=True,
        )
        return _read(cf.CfSettlementPage, payload, settlement_page_from)

    async def get_order_settlements(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[GatewaySettlement]:
        path = f"orders/{_segment(order_id)}/settlements"
        payload = await self._send("get_order_settlements", "GET", path, request_id=request_id)
        page = _read(cf.CfSettlementPage, payload, lambda wire: wire)
        return [_read(cf.CfSettlement, item, settlement_from) for item in page.data]

    async def settlement_recon(
        self, query: GatewaySettlementQuery, *, request_id: str | None = None
    ) -> GatewayReconPage:
        payload = await self._send(
            "settlement_recon",
            "POST",
            "settlement/recon",
            body=settlements_request_body(query),
            request_id=request_id,
            read_only=True,
        )
        return _read(cf.CfReconPage, payload, recon_page_from)

    async def pg_recon(
        self, query: GatewayReconQuery, *, request_id: str | None = None
    ) -> GatewayReconPage:
        payload = await self._send(
            "pg_recon",
            "POST",
            "recon",
            body=recon_request_body(query),
            request_id=request_id,
            read_only=True,
        )
        return _read(cf.CfReconPage, payload, recon_page_from)

    # --- transport ------------------------------------------------------------------------

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        request_id: str | None,
        body: BaseModel | None = None,
        idempotency_key: str | None = None,
        read_only: bool = False,
    ) -> object:
        """One logical call: attempts with bounded, jittered retries where repeating is safe."""
        headers = {"x-request-id": resolve_request_id(request_id)}
        if idempotency_key is not None:
            headers["x-idempotency-key"] = idempotency_key
        content = None
        if body is not None:
            headers["content-type"] = "application/json"
            content = dump_json(body.model_dump(exclude_none=True))
        # Reads never change anything; a write repeated with the same key is replayed, not redone.
        repeat_is_safe = method == "GET" or read_only or idempotency_key is not None
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
            response = await self._request(method, path, headers, content)
            payload = _payload(response)
            if not response.is_success:
                raise error_for_response(
                    response.status_code, payload, retry_after=_retry_after(response)
                )
            if payload is None:
                raise GatewayInvalidResponse("cashfree answered without a JSON body")
            return payload
        except GatewayError as error:
            outcome = error.code
            raise
        finally:
            GATEWAY_CALLS.labels(operation, outcome).inc()
            GATEWAY_CALL_DURATION.labels(operation).observe(time.perf_counter() - started)

    async def _request(
        self, method: str, path: str, headers: dict[str, str], content: bytes | None
    ) -> httpx.Response:
        try:
            return await self._client.request(method, path, headers=headers, content=content)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise GatewayUnavailable("cashfree cannot be reached") from exc
        except httpx.TimeoutException as exc:
            raise GatewayTimeout("cashfree did not answer in time") from exc
        except httpx.TransportError as exc:
            # Sent, then the connection broke: as unknown as a timeout.
            raise GatewayTimeout("cashfree connection broke before an answer") from exc


Created = TypeVar("Created", GatewayOrder, GatewayRefund)


async def _create_once(
    kind: str,
    create: Callable[[], Awaitable[Created]],
    fetch: Callable[[], Awaitable[Created]],
    asked: tuple[int, str],
    **ids: Any,
) -> Created:
    """Creates an order or a refund (`kind`) once. After "already exists" (409) or a lost
    answer, the one at the gateway is returned if it is ours (same amount and currency, else
    `GatewayConflict`: never someone else's under our id); if it is not there the original
    failure stands, and "exists" yet not found is an unknown outcome, never a refusal."""
    try:
        return await create()
    except GatewayError as error:
        if not _means_already_exists(error) and not isinstance(error, GatewayOutcomeUnknown):
            raise
        existing: Created | None = None
        try:
            existing = await fetch()
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
                **ids,
            ) from error
        if (existing.amount_minor, existing.currency) != asked:
            raise GatewayConflict(
                f"{kind} id exists at the gateway with another amount or currency", **ids
            ) from error
        logger.bind(operation=f"create_{kind}", after=error.code).info(
            f"gateway {kind} already exists"
        )
        return existing


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


def _segment(value: str) -> str:
    return quote(value, safe="")


def _payload(response: httpx.Response) -> object:
    if not response.content:
        return None
    try:
        return load_json(response.content)
    except ValueError:
        if response.is_success:
            raise GatewayInvalidResponse("cashfree answered with invalid JSON") from None
        return None  # an error page from a proxy: the status code still says enough


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("x-ratelimit-retry") or response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


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


if TYPE_CHECKING:

    def _is_a_payment_gateway(gateway: CashfreeGateway) -> PaymentGateway:
        return gateway  # mypy proves CashfreeGateway implements the interface
