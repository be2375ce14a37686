"""The operator's CLI as an operator runs it: a separate process, the service's settings."""

import os

from cashfree_emulator.testing import RunningEmulator
from paycore.kit.service import InfraSettings
from paycore.reconciliation.models import ItemStatus, MismatchKind, ReconciliationItem
from paycore.reconciliation.repository import ReconciliationRepository
from paycore.testing import run_module, run_module_async
from reconciler.cli import render

AN_HOUR = ("--start", "2026-01-01T00:00+00:00", "--end", "2026-01-01T01:00+00:00")


async def _cli(settings: InfraSettings, emulator: RunningEmulator, *args: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "APP_ENV": "test",
        "MONGO_DB": settings.mongo_db,
        "REDIS_PREFIX": settings.redis_prefix,
        "BROKER_PREFIX": settings.broker_prefix,
        "CASHFREE_APP_ID": emulator.app_id,
        "CASHFREE_SECRET_KEY": emulator.secret_key,
        "CASHFREE_BASE_URL": emulator.api_url,
    }
    code, out, err = await run_module_async("reconciler.cli", *args, env=env)
    # What a person reads is stdout (stderr: warnings and errors).
    return code, out if code == 0 else err


async def test_report_resolve_and_run_from_the_command_line(
    database: InfraSettings, emulator: RunningEmulator
) -> None:
    await ReconciliationItem(
        item_id="SETTLEMENT_AMOUNT:ord_short",
        run_id="rec_manual_x",
        kind=MismatchKind.SETTLEMENT_AMOUNT,
        order_id="ord_short",
        detail={
            "settlement_amount": {"ours": 9_764, "gateway": 9_664},
            "utr": "4821",
        },
    ).insert()
    await ReconciliationItem(
        item_id="STATUS:ord_healed",
        run_id="rec_manual_x",
        kind=MismatchKind.STATUS,
        status=ItemStatus.HEALED,
        order_id="ord_healed",
        detail={"status": {"ours": "PENDING", "gateway": "SUCCESS"}},
    ).insert()

    code, table = await _cli(database, emulator, "report")
    assert code == 0, table
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["item", "kind", "status"]
    assert any(
        "SETTLEMENT_AMOUNT:ord_short" in line and "settlement_amount: 9764 → 9664; utr=4821" in line
        for line in lines
    )
    assert lines[-1] == "2 items: 1 healed, 1 open"

    # CSV for a spreadsheet: the same rows (in-process; each command costs a process start).
    csv_text = render(await ReconciliationRepository().find_items(status="OPEN"), "csv")
    assert csv_text.splitlines()[0] == "item,kind,status,order,what differs,first run,last seen"
    assert len(csv_text.splitlines()) == 2

    code, said = await _cli(
        database,
        emulator,
        "resolve",
        "SETTLEMENT_AMOUNT:ord_short",
        "--note",
        "credited",
        "--by",
        "alice",
    )
    assert (code, said.strip()) == (0, "SETTLEMENT_AMOUNT:ord_short resolved by alice: credited")
    # Not open any more: the operator is told what it is now.
    code, said = await _cli(
        database, emulator, "resolve", "STATUS:ord_healed", "--note", "x", "--by", "alice"
    )
    assert code == 1
    assert "reconciliation_item_not_open" in said
    assert "(it is HEALED)" in said

    # A report cut by --limit says so.
    code, table = await _cli(database, emulator, "report", "--limit", "1")
    assert code == 0, table
    assert table.splitlines()[-1] == "showing 1 of 2; use --limit 2 to see all"
    code, table = await _cli(database, emulator, "report", "--limit", "2")
    assert "showing" not in table

    code, said = await _cli(database, emulator, "run", *AN_HOUR, "--every-order")
    assert code == 0, said
    assert "DONE: window 2026-01-01 00:00 to 2026-01-01 01:00 UTC, 0 orders checked" in said


async def test_a_window_no_run_can_cover_is_refused_before_anything_runs(
    database: InfraSettings, emulator: RunningEmulator
) -> None:
    # Found by review: a reversed or offset-less window used to start a run, ask Cashfree,
    # store a FAILED run under a nonsense id, and exit 0.
    await emulator.control.reset()
    for start, end in (
        ("2026-01-01T01:00+00:00", "2026-01-01T00:00+00:00"),  # reversed
        ("2026-01-01T00:00", "2026-01-01T01:00"),  # no UTC offset
        ("2025-01-01T00:00+00:00", "2026-01-01T00:00+00:00"),  # a year
    ):
        code, said = await _cli(database, emulator, "run", "--start", start, "--end", end)
        assert code == 2, said
        assert said.startswith("validation_error: "), said
    assert await ReconciliationRepository().latest_runs() == []
    assert await emulator.control.calls() == []

    # A run that could not read Cashfree's reports ends FAILED, and says so in its exit code.
    await emulator.control.fail_next_calls(500, operation="get_settlement_recon", count=10)
    code, said = await _cli(database, emulator, "run", *AN_HOUR)
    assert code == 1
    [run] = await ReconciliationRepository().latest_runs()
    assert run.status == "FAILED"

    code, said = await _cli(database, emulator, "report", "--kind", "SETTLEMENT_AMOUNTS")
    assert code == 2
    assert "invalid choice: 'SETTLEMENT_AMOUNTS'" in said


def test_help_needs_no_configuration() -> None:
    """An on-call engineer reads `--help` before the service's secrets are at hand."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CASHFREE_")}
    for command in ((), ("run",), ("report",), ("resolve",)):
        assert "usage:" in run_module("reconciler.cli", *command, "--help", env=env)
