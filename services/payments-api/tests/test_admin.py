"""The admins' operational view: reconciliation runs and their mismatches, read-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from paycore.reconciliation.models import MismatchKind, ReconciliationItem, ReconciliationRun
from paycore.webhooks.models import WebhookLog, WebhookStatus
from payments_api_testing import ApiClient, new_key, new_user


async def test_admins_see_reconciliation_runs_and_their_mismatches(api: ApiClient) -> None:
    now = datetime.now(UTC)
    run_id = "rec_" + new_key()[:20]
    await ReconciliationRun(
        run_id=run_id,
        window_start=now - timedelta(hours=1),
        window_end=now,
        status="DONE",
        checked=3,
        matched=2,
        mismatched=1,
        started_at=now + timedelta(days=365),  # newest, whatever else the database holds
    ).insert()
    await ReconciliationItem(
        item_id=f"{run_id}:evt_1",
        run_id=run_id,
        kind=MismatchKind.NOT_CAPTURED_HERE,
        order_id="ord_X",
        detail={"gateway_status": "SUCCESS"},
    ).insert()
    response = await api.http.get(
        "/api/v1/admin/reconciliation", params={"limit": "1"}, headers=api.headers("ops", "admin")
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [run["run_id"] for run in data["runs"]] == [run_id]
    assert [(item["kind"], item["order_id"]) for item in data["items"]] == [
        ("NOT_CAPTURED_HERE", "ord_X")
    ]
    refused = await api.http.get("/api/v1/admin/reconciliation", headers=api.headers(new_user()))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"


async def test_admins_see_dead_lettered_webhooks_without_their_bodies(api: ApiClient) -> None:
    log_id = "whk_" + new_key()[:20]
    await WebhookLog(
        log_id=log_id,
        event_id="evt_" + new_key(),
        event_type="PAYMENT_SUCCESS_WEBHOOK",
        body='{"customer_email": "secret@example.com"}',
        body_sha256="0" * 64,
        signature="sig",
        timestamp="1700000000000",
        status=WebhookStatus.FAILED,
        attempts=5,
        last_error="ChangedConcurrently",
        order_id="ord_Z",
        dead_lettered=True,
    ).insert()
    response = await api.http.get("/api/v1/admin/dead-letters", headers=api.headers("ops", "admin"))
    assert response.status_code == 200, response.text
    [item] = [item for item in response.json()["data"]["items"] if item["log_id"] == log_id]
    assert (item["order_id"], item["attempts"], item["last_error"]) == (
        "ord_Z",
        5,
        "ChangedConcurrently",
    )
    assert "secret@example.com" not in response.text
    refused = await api.http.get("/api/v1/admin/dead-letters", headers=api.headers(new_user()))
    assert refused.status_code == 403


async def test_admins_list_resolve_and_request_reconciliation(api: ApiClient) -> None:
    item_id = "SETTLEMENT_AMOUNT:ord_" + new_key()[:20]
    await ReconciliationItem(
        item_id=item_id,
        run_id="rec_x",
        kind=MismatchKind.SETTLEMENT_AMOUNT,
        order_id=item_id.split(":")[1],
        detail={"settlement_amount": {"ours": 9_764, "gateway": 9_664}},
    ).insert()
    listed = await api.http.get(
        "/api/v1/admin/reconciliation/items",
        params={"kind": "SETTLEMENT_AMOUNT", "status": "OPEN"},
        headers=api.headers("ops", "admin"),
    )
    assert listed.status_code == 200, listed.text
    assert item_id in [item["item_id"] for item in listed.json()["data"]["items"]]
    bad = await api.http.get(
        "/api/v1/admin/reconciliation/items",
        params={"kind": "NOPE"},
        headers=api.headers("ops", "admin"),
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "validation_error")

    path = f"/api/v1/admin/reconciliation/items/{item_id}/resolve"
    resolved = await api.http.post(
        path, json={"note": "Cashfree credits it"}, headers=api.headers("ops", "admin", new_key())
    )
    assert resolved.status_code == 200, resolved.text
    data = resolved.json()["data"]
    assert (data["status"], data["note"], data["resolved_by"]) == (
        "RESOLVED",
        "Cashfree credits it",
        "ops",
    )
    again = await api.http.post(
        path, json={"note": "again"}, headers=api.headers("ops", "admin", new_key())
    )
    assert (again.status_code, again.json()["error"]["code"]) == (
        409,
        "reconciliation_item_not_open",
    )

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    window = {"start": (now - timedelta(hours=2)).isoformat(), "end": now.isoformat()}
    started = await api.http.post(
        "/api/v1/admin/reconciliation/runs",
        json=window,
        headers=api.headers("ops", "admin", new_key()),
    )
    assert started.status_code == 202, started.text
    assert (started.json()["data"]["status"], started.json()["data"]["schedule"]) == (
        "REQUESTED",
        "manual",
    )
    reversed_window = {"start": window["end"], "end": window["start"]}
    refused = await api.http.post(
        "/api/v1/admin/reconciliation/runs",
        json=reversed_window,
        headers=api.headers("ops", "admin", new_key()),
    )
    assert refused.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/admin/reconciliation",
        "/api/v1/admin/reconciliation/items",
        "/api/v1/admin/dead-letters",
    ],
)
async def test_admin_lists_refuse_a_bad_limit_and_unknown_parameters(
    api: ApiClient, path: str
) -> None:
    headers = api.headers("ops", "admin")
    for limit in ("0", "100000", "ten", "²", "١"):
        response = await api.http.get(path, params={"limit": limit}, headers=headers)
        assert response.status_code == 400, (limit, response.text)
        assert response.json()["error"]["details"]["field"] == "limit"
    response = await api.http.get(path, params={"page": "2"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"unknown_parameters": ["page"]}
