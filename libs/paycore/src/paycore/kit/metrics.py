"""Prometheus metrics shared by every service; each process is one service, one registry."""

from __future__ import annotations

import time
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paycore.kit.asgi import HttpMiddleware

M = TypeVar("M", Counter, Gauge, Histogram)

# No `<name>_created` series (the creation time of every counter and histogram child): they
# roughly double the series count and no rule or panel reads them. Read at every scrape, so
# this one call, made wherever the kit's metrics are, covers every service.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

HTTP_REQUESTS = Counter(
    "paycore_http_requests_total",
    "HTTP requests answered, by route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "paycore_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Heartbeats of scheduled jobs (the reconciler's janitor, reconcile, invariants, audit_verify).
# A job that stops succeeding shows as `time() - last_success > 3 * interval` (PaycoreJobStalled).
# The label is `task`: `job` is Prometheus's own (the scrape job).
JOB_RUNS = Counter(
    "paycore_job_runs_total",
    "Scheduled job runs, by task and outcome (ok, failed).",
    ["task", "outcome"],
)
JOB_LAST_SUCCESS = Gauge(
    "paycore_job_last_success_timestamp_seconds",
    "Unix time of the task's last successful run (the process start until the first one).",
    ["task"],
)
JOB_INTERVAL = Gauge(
    "paycore_job_interval_seconds", "How often the task is meant to run, in seconds.", ["task"]
)

AUDIT_CHAIN_BREAKS = Gauge(
    "paycore_audit_chain_breaks",
    "Audit chains (one per resource) that failed the last verification (reconciler).",
)
AUDIT_RECORDS_VERIFIED = Gauge(
    "paycore_audit_records_verified", "Audit records the last verification checked."
)
AUDIT_PENDING_SWEPT = Counter(
    "paycore_audit_pending_swept_total",
    "Audit entries a crashed writer left pending, moved into their chain by the sweep.",
)


class MetricsMiddleware(HttpMiddleware):
    """Counts and times requests by route template (never by raw path: ids are unbounded)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        super().__init__(app)
        self.service = service

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            # Kept series (`series`): `labels()` validates and locks on every call, which was
            # half of this middleware's cost per request.
            series(HTTP_REQUESTS, self.service, method, template, str(status)).inc()
            series(HTTP_DURATION, self.service, method, template).observe(
                time.perf_counter() - started
            )


_children: dict[tuple[Any, tuple[str, ...]], Any] = {}


def series(metric: M, *labels: str) -> M:
    """`metric.labels(*labels)`, made once per label values and kept: `labels()` validates and
    locks on every call (5-10 us, as much as the update it is for). Only for metrics whose
    series are never removed, with bounded label values (as every label must be)."""
    key = (metric, labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    result: M = child
    return result


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
