"""Operational views for admins (the console's Operations page): reconciliation runs and the
items (breaks) they found, resolving an item, asking for a run of a window; and the
dead-lettered webhooks (replayed with `python -m webhook_processor.ops`)."""

from __future__ import annotations

from paycore.auth.tokens import Scope
from paycore.kit.errors import ValidationFailed
from paycore.reconciliation.models import (
    ItemStatus,
    MismatchKind,
)
from paycore.reconciliation.operations import find_items, latest_runs, request_run, resolve_item
from paycore.webhooks.service import WebhookService
from starlette.requests import Request
from starlette.responses import Response

from payments_api.api import Outcome, get_api, int_param, query_of, read_body, respond
from payments_api.responses import (
    DeadLetterList,
    DeadLetterOut,
    ReconciliationItemList,
    ReconciliationItemOut,
    ReconciliationOut,
    ReconciliationRunOut,
)
from payments_api.schemas import ResolveItemIn, StartReconciliationIn

MAX_RUNS = 50
MAX_ITEMS = 500
MAX_DEAD_LETTERS = 200


async def reconciliation(request: Request) -> Response:
    """`{runs, items}`: the latest `limit` runs (default 10) and their mismatches."""
    api = get_api(request)
    await api.guard(request, Scope.ADMIN)
    query = query_of(request, "limit")
    runs, items = await latest_runs(
        int_param(query.get("limit"), "limit", default=10, maximum=MAX_RUNS)
    )
    return respond(
        ReconciliationOut(
            runs=[ReconciliationRunOut.model_validate(run) for run in runs],
            items=[ReconciliationItemOut.model_validate(item) for item in items],
        )
    )


async def reconciliation_items(request: Request) -> Response:
    """`{items}`: reconciliation items by `run_id` (found first or again by it), `status` and
    `kind`, grouped by kind (at most `limit`, default 200)."""
    api = get_api(request)
    await api.guard(request, Scope.ADMIN)
    params = query_of(request, "run_id", "status", "kind", "limit")
    status, kind = params.get("status"), params.get("kind")
    if status is not None and status not in ItemStatus.__members__:
        raise ValidationFailed(f"status must be one of {', '.join(ItemStatus)}", field="status")
    if kind is not None and kind not in MismatchKind.__members__:
        raise ValidationFailed(f"kind must be one of {', '.join(MismatchKind)}", field="kind")
    limit = int_param(params.get("limit"), "limit", default=200, maximum=MAX_ITEMS)
    items = await find_items(run_id=params.get("run_id"), status=status, kind=kind, limit=limit)
    return respond(
        ReconciliationItemList(items=[ReconciliationItemOut.model_validate(item) for item in items])
    )


async def resolve_reconciliation_item(request: Request) -> Response:
    """Closes an open item with the admin's note (audited); 409 if it is not open."""
    api = get_api(request)
    principal = await api.guard(request, Scope.ADMIN)
    body, parsed = await read_body(request, ResolveItemIn)

    async def run(key: str, request_fingerprint: str) -> Outcome:
        item = await resolve_item(
            request.path_params["item_id"], body.note, api.actor(request, principal), api.audit
        )
        return Outcome(200, ReconciliationItemOut.model_validate(item))

    return await api.idempotent(request, principal, "reconciliation-resolve", parsed, run)


async def start_reconciliation(request: Request) -> Response:
    """Asks the reconciler for a run of the window [start, end); 202 with the run (REQUESTED
    until the reconciler takes it, within its interval)."""
    api = get_api(request)
    principal = await api.guard(request, Scope.ADMIN)
    body, parsed = await read_body(request, StartReconciliationIn)

    async def run(key: str, request_fingerprint: str) -> Outcome:
        run = await request_run(body.start, body.end)
        return Outcome(202, ReconciliationRunOut.model_validate(run))

    return await api.idempotent(request, principal, "reconciliation-run", parsed, run)


async def dead_letters(request: Request) -> Response:
    """`{items}`: dead-lettered webhooks, oldest first (at most `limit`, default 50). What they
    are about and why they failed; never their bodies (they name customers)."""
    api = get_api(request)
    await api.guard(request, Scope.ADMIN)
    query = query_of(request, "limit")
    limit = int_param(query.get("limit"), "limit", default=50, maximum=MAX_DEAD_LETTERS)
    logs = await WebhookService(api.payments, api.refunds).dead_lettered(limit)
    return respond(DeadLetterList(items=[DeadLetterOut.model_validate(log) for log in logs]))
