"""What every HTTP app shares: request ids, metrics, error rendering, health and /metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from loguru import logger
from pymongo.errors import ConnectionFailure, PyMongoError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paycore.kit.asgi import HttpMiddleware
from paycore.kit.client_ip import FORWARDED_FOR, ClientAddressResolver
from paycore.kit.context import (
    bound_ids,
    new_request_id,
    new_trace_id,
    request_id_var,
    trace_id_from_traceparent,
)
from paycore.kit.errors import (
    AppError,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    HttpError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    ValidationFailed,
    error_body,
)
from paycore.kit.metrics import MetricsMiddleware, metrics_endpoint
from paycore.kit.settings import BaseServiceSettings

HealthCheck = Callable[[], Awaitable[None]]  # raises when the dependency is unusable

CLIENT_IP_STATE = "client_ip"

# The framework's own refusals (no route, wrong method) as our errors.
HTTP_ERRORS: dict[int, type[AppError]] = {
    400: ValidationFailed,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
}


class RequestContextMiddleware(HttpMiddleware):
    """Binds requestId, correlationId, traceId and the caller's address (`clientIp`, see
    `paycore.kit.client_ip`) for the whole request and returns the request id to the caller."""

    def __init__(self, app: ASGIApp, resolver: ClientAddressResolver | None = None) -> None:
        super().__init__(app)
        self.resolver = resolver or ClientAddressResolver()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _context_headers(scope)
        request_id = _safe_id(_first(headers, b"x-request-id")) or new_request_id()
        correlation_id = _safe_id(_first(headers, b"x-correlation-id")) or request_id
        trace_id = trace_id_from_traceparent(_first(headers, b"traceparent")) or new_trace_id()
        peer = scope.get("client")
        forwarded_for = headers.get(_FORWARDED_FOR, [])
        ip = self.resolver.resolve(peer[0] if peer else None, forwarded_for)
        scope.setdefault("state", {})[CLIENT_IP_STATE] = ip

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        with bound_ids(request_id, correlation_id, trace_id, clientIp=ip):
            await self.app(scope, receive, send_with_id)


_FORWARDED_FOR = FORWARDED_FOR.encode()
_CONTEXT_HEADERS = frozenset({b"x-request-id", b"x-correlation-id", b"traceparent", _FORWARDED_FOR})


def _context_headers(scope: Scope) -> dict[bytes, list[str]]:
    """The values of the request headers `RequestContextMiddleware` reads, in order, in one
    pass over the raw headers (ASGI names them in lower case)."""
    found: dict[bytes, list[str]] = {}
    for name, value in scope["headers"]:
        if name in _CONTEXT_HEADERS:
            found.setdefault(name, []).append(value.decode("latin-1"))
    return found


def _first(headers: dict[bytes, list[str]], name: bytes) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def client_ip(request: Request) -> str | None:
    """The caller's address as `RequestContextMiddleware` resolved it (never a raw header)."""
    value = request.scope.get("state", {}).get(CLIENT_IP_STATE)
    return value if isinstance(value, str) else None


def _safe_id(value: str | None) -> str | None:
    """Accepts a caller's id only if it is short and plain (it ends up in logs and headers)."""
    if value and len(value) <= 128 and all(c.isalnum() or c in "-_.:" for c in value):
        return value
    return None


def render_error(error: AppError) -> JSONResponse:
    response = JSONResponse(error_body(error, request_id_var.get()), status_code=error.status)
    response.headers.update(error.headers)
    return response


async def app_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if exc.status >= 500:
        logger.error("request failed", code=exc.code, error=exc.message)
    return render_error(exc)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = HTTP_ERRORS.get(exc.status_code)
    error = (kind or HttpError)(exc.detail if isinstance(exc.detail, str) else None)
    if kind is None:
        error.status = exc.status_code  # type: ignore[misc]
    error.headers = dict(exc.headers or {})
    return render_error(error)


# How long a caller should wait before retrying a request refused for an unavailable dependency.
DEPENDENCY_RETRY_AFTER_SECONDS = 1


async def dependency_error_handler(request: Request, exc: Exception) -> Response:
    """A database or Redis that is down or too slow (the bounds of `MongoSettings` and
    `RedisSettings`) answers 503 with Retry-After, at once, never a 500: the caller retries."""
    if isinstance(exc, PyMongoError) and not is_unavailable(exc):
        return await unexpected_error_handler(request, exc)
    logger.warning("dependency unavailable", error=repr(exc)[:300])
    error = DependencyUnavailable("a dependency is unavailable; retry shortly")
    error.headers = {"Retry-After": str(DEPENDENCY_RETRY_AFTER_SECONDS)}
    return render_error(error)


def is_unavailable(exc: PyMongoError) -> bool:
    """PyMongo's connection failures (refused, reset, no server selected) and timeouts."""
    return isinstance(exc, ConnectionFailure) or exc.timeout


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    logger.opt(exception=exc).error("unhandled error")
    return render_error(AppError("internal error"))


async def probe(check: HealthCheck, timeout: float = 3) -> dict[str, Any]:
    """Runs a dependency check: `status` up or down, its latency, and the error if down."""
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout=timeout)
    except Exception as exc:
        error: str | None = type(exc).__name__
    else:
        error = None
    result: dict[str, Any] = {
        "status": "down" if error else "up",
        "latencyMs": round((time.perf_counter() - started) * 1000, 2),
    }
    if error:
        result["error"] = error
    return result


def health_routes(
    service: str,
    checks: Mapping[str, HealthCheck],
    ready: Sequence[str] | None = None,
    *,
    liveness: bool = True,
    details: bool = True,
) -> list[BaseRoute]:
    """`/health` (liveness: the process answers, nothing else), `/health/ready` (readiness:
    only the dependencies in `ready`, default all, are required) and `/health/<name>` per
    dependency, each with its latency. `/health/ready` reports every dependency; only the
    required ones decide its status."""
    required = list(checks) if ready is None else list(ready)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": service})

    def dependency_route(name: str, check: HealthCheck) -> Route:
        async def endpoint(request: Request) -> Response:
            result = {"dependency": name, **await probe(check)}
            return JSONResponse(result, status_code=200 if result["status"] == "up" else 503)

        return Route(f"/health/{name}", endpoint, methods=["GET"])

    async def readiness(request: Request) -> Response:
        results = {name: (await probe(check))["status"] for name, check in checks.items()}
        healthy = all(results[name] == "up" for name in required)
        return JSONResponse(
            {
                "status": "ok" if healthy else "degraded",
                "service": service,
                "requires": required,
                "dependencies": results,
            },
            status_code=200 if healthy else 503,
        )

    routes: list[BaseRoute] = [Route("/health", health, methods=["GET"])] if liveness else []
    if details:
        routes.append(Route("/health/ready", readiness, methods=["GET"]))
        routes += [dependency_route(name, check) for name, check in checks.items()]
    return routes


def create_app(
    settings: BaseServiceSettings,
    routes: Sequence[BaseRoute],
    *,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[Any]] | None = None,
    checks: Mapping[str, HealthCheck] | None = None,
    ready: Sequence[str] | None = None,
    middleware: Sequence[Middleware] = (),
) -> Starlette:
    """A Starlette app with the shared middleware, error handlers, health and (unless
    `PROMETHEUS_ENABLED=false`) metrics. `ready` names the dependencies readiness requires
    (default: every check). With `METRICS_PORT` set, metrics and the detailed health routes
    move to `app.state.ops_app`, which the runner serves on that port."""
    service = settings.service_name
    checks = checks or {}
    operations = health_routes(service, checks, ready, liveness=False)
    if settings.prometheus_enabled:
        operations.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    separate = settings.metrics_port is not None
    public = health_routes(service, checks, ready, details=False)
    app = Starlette(
        routes=[*public, *([] if separate else operations), *routes],
        lifespan=lifespan,
        middleware=[
            Middleware(RequestContextMiddleware, resolver=settings.client_address_resolver),
            Middleware(MetricsMiddleware, service=service),
            *middleware,
        ],
        exception_handlers={
            AppError: app_error_handler,
            HTTPException: http_error_handler,
            PyMongoError: dependency_error_handler,
            RedisConnectionError: dependency_error_handler,
            RedisTimeoutError: dependency_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.state.ops_app = Starlette(routes=[*public, *operations]) if separate else None
    return app
