"""Operational views for admins (the console's Operations page): reconciliation runs and the
mismatches they found, read-only."""

from __future__ import annotations

from typing import Any

from paycore.auth.tokens import Scope
from paycore.kit.errors import ValidationFailed
from paycore.reconciliation.models import ReconciliationItem, ReconciliationRun
from paycore.reconciliation.queries import items_of, latest_runs
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import get_api, respond

MAX_RUNS = 50


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
