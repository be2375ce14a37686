"""Operational views for admins (the console's Operations page), read-only: reconciliation runs
and the mismatches they found, and the dead-lettered webhooks (replayed with
`python -m webhook_processor.ops`)."""

from __future__ import annotations

from typing import Any

from paycore.auth.tokens import Scope
from paycore.kit.errors import ValidationFailed
from paycore.reconciliation.models import ReconciliationItem, ReconciliationRun
from paycore.reconciliation.queries import items_of, latest_runs
from paycore.webhooks.models import WebhookLog
from paycore.webhooks.repository import WebhookLogRepository
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import get_api, respond

MAX_RUNS = 50
MAX_DEAD_LETTERS = 200


async def reconciliation(request: Request) -> Response:
    """`{runs, items}`: the latest `limit` runs (default 10) and their mismatches."""
    api = get_api(request)
    await api.guard(request, Scope.ADMIN)
    unknown = set(request.query_params.keys()) - {"limit"}
    if unknown:
        raise ValidationFailed(unknown_parameters=sorted(unknown))
    raw = request.query_params.get("limit", "10")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_RUNS:
        raise ValidationFailed(f"limit must be 1 to {MAX_RUNS}", field="limit")
    runs = await latest_runs(int(raw))
    items = await items_of([run.run_id for run in runs])
    return respond({"runs": [_run(run) for run in runs], "items": [_item(i) for i in items]})


async def dead_letters(request: Request) -> Response:
    """`{items}`: dead-lettered webhooks, oldest first (at most `limit`, default 50). What they
    are about and why they failed; never their bodies (they name customers)."""
    api = get_api(request)
    await api.guard(request, Scope.ADMIN)
    unknown = set(request.query_params.keys()) - {"limit"}
    if unknown:
        raise ValidationFailed(unknown_parameters=sorted(unknown))
    raw = request.query_params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DEAD_LETTERS:
        raise ValidationFailed(f"limit must be 1 to {MAX_DEAD_LETTERS}", field="limit")
    logs = await WebhookLogRepository().list_dead_lettered(int(raw))
    return respond({"items": [_dead_letter(log) for log in logs]})


def _dead_letter(log: WebhookLog) -> dict[str, Any]:
    return {
        "log_id": log.log_id,
        "event_type": log.event_type,
        "status": log.status.value,
        "attempts": log.attempts,
        "reason": log.reason,
        "last_error": log.last_error,
        "order_id": log.order_id,
        "payment_id": log.payment_id,
        "refund_id": log.refund_id,
        "received_at": log.received_at.isoformat(),
    }


def _run(run: ReconciliationRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "status": run.status,
        "window_start": run.window_start.isoformat(),
        "window_end": run.window_end.isoformat(),
        "checked": run.checked,
        "matched": run.matched,
        "mismatched": run.mismatched,
        "error": run.error,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def _item(item: ReconciliationItem) -> dict[str, Any]:
    return {
        "run_id": item.run_id,
        "kind": item.kind.value,
        "order_id": item.order_id,
        "payment_id": item.payment_id,
        "detail": item.detail,
        "created_at": item.created_at.isoformat(),
    }
