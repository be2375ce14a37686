"""The operator's reconciliation commands (same settings as the service):

    uv run python -m reconciler.cli run --start 2026-12-01T00:00Z --end 2026-12-01T01:00Z
    uv run python -m reconciler.cli report [--run RUN_ID] [--status OPEN] [--kind KIND] [--csv]
    uv run python -m reconciler.cli resolve ITEM_ID --note "refunded by hand" --by alice

`report` prints the items as a table a person can read (or CSV for a spreadsheet): one line per
break, with what differs as `field: ours → gateway`. Amounts are in minor units (paise). At
most `--limit` items (200) are shown; when more match it says "showing N of M; use --limit".
`resolve` on an item that is not open says its current status.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from loguru import logger
from paycore.gateway import CashfreeGateway
from paycore.kit.errors import AppError
from paycore.kit.mongo import connect_mongo
from paycore.kit.settings import load_settings
from paycore.reconciliation.models import MismatchKind, ReconciliationItem, ReconciliationRun
from paycore.reconciliation.operations import check_window, count_items, find_items

from reconciler.app import MODELS, reconciliation_engine
from reconciler.settings import Settings

COLUMNS = ("item", "kind", "status", "order", "what differs", "first run", "last seen")


def describe(detail: dict[str, Any]) -> str:
    """`field: ours → gateway` for each differing field, then the other facts."""
    parts = []
    for name, value in detail.items():
        if isinstance(value, dict) and set(value) == {"ours", "gateway"}:
            parts.append(f"{name}: {_text(value['ours'])} → {_text(value['gateway'])}")
    parts += [
        f"{name}={_text(value)}"
        for name, value in detail.items()
        if not (isinstance(value, dict) and set(value) == {"ours", "gateway"})
    ]
    return "; ".join(parts)


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def rows_of(items: Sequence[ReconciliationItem]) -> list[tuple[str, ...]]:
    return [
        (
            item.item_id,
            item.kind.value,
            item.status.value,
            item.order_id or "",
            describe(item.detail) + (f" (note: {item.note})" if item.note else ""),
            item.run_id,
            item.last_seen_at.strftime("%Y-%m-%d %H:%M"),
        )
        for item in items
    ]


def render(items: Sequence[ReconciliationItem], fmt: str = "table") -> str:
    """The items as an aligned text table (`table`) or CSV (`csv`)."""
    rows = rows_of(items)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return out.getvalue()
    if not rows:
        return "No reconciliation items.\n"
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [COLUMNS, tuple("-" * w for w in widths), *rows]
    ]
    counts: dict[str, int] = {}
    for item in items:
        counts[item.status.value] = counts.get(item.status.value, 0) + 1
    summary = ", ".join(f"{n} {status.lower()}" for status, n in sorted(counts.items()))
    noun = "item" if len(rows) == 1 else "items"
    return "\n".join(line.rstrip() for line in lines) + f"\n\n{len(rows)} {noun}: {summary}\n"


def render_run(run: ReconciliationRun) -> str:
    return (
        f"{run.run_id} {run.status}: window {run.window_start:%Y-%m-%d %H:%M} to "
        f"{run.window_end:%Y-%m-%d %H:%M} UTC, {run.checked} orders checked "
        f"({run.report_pages} report pages, {run.asked_gateway} orders asked about one by one), "
        f"{run.matched} matched, {run.mismatched} breaks, {run.healed} healed, "
        f"{run.closed} closed" + (f"\nerrors: {run.error}" if run.error else "")
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reconciler.cli", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="reconcile a window [start, end) now")
    run.add_argument("--start", type=datetime.fromisoformat, required=True)
    run.add_argument("--end", type=datetime.fromisoformat, required=True)
    run.add_argument(
        "--every-order",
        action="store_true",
        help="ask Cashfree about every order, also those its reports agree on (after a restore)",
    )
    report = commands.add_parser("report", help="list reconciliation items")
    report.add_argument("--run", dest="run_id")
    report.add_argument("--status", choices=["OPEN", "HEALED", "CLOSED", "RESOLVED"])
    report.add_argument("--kind", choices=[kind.value for kind in MismatchKind])
    report.add_argument("--limit", type=int, default=200)
    report.add_argument("--csv", action="store_true")
    resolve = commands.add_parser("resolve", help="close an open item with a note")
    resolve.add_argument("item_id")
    resolve.add_argument("--note", required=True)
    resolve.add_argument("--by", required=True, help="who resolves it (goes to the audit log)")
    return parser


async def main_async(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect_mongo(settings, MODELS)
    gateway = CashfreeGateway(settings)
    try:
        if args.command == "run":
            try:
                check_window(args.start, args.end)
            except AppError as error:
                sys.stderr.write(f"{error.code}: {error.message}\n")
                return 2
            engine = reconciliation_engine(settings, gateway)
            run = await engine.run(args.start, args.end, every_order=args.every_order)
            sys.stdout.write(render_run(run) + "\n")
            return 0 if run.status == "DONE" else 1
        if args.command == "report":
            query = {"run_id": args.run_id, "status": args.status, "kind": args.kind}
            items = await find_items(**query, limit=args.limit)
            sys.stdout.write(render(items, "csv" if args.csv else "table"))
            total = await count_items(**query)
            if total > len(items):
                # Cut by --limit: said, never silent (on stderr, so a CSV stays a CSV).
                cut = f"showing {len(items)} of {total}; use --limit {total} to see all\n"
                (sys.stderr if args.csv else sys.stdout).write(cut)
            return 0
        try:
            item = await reconciliation_engine(settings, gateway).resolve(
                args.item_id, args.note, args.by
            )
        except AppError as error:
            status = error.details.get("status")
            now = f" (it is {status})" if status else ""
            sys.stderr.write(f"{error.code}: {error.message} {args.item_id}{now}\n")
            return 1
        sys.stdout.write(f"{item.item_id} resolved by {item.resolved_by}: {item.note}\n")
        return 0
    finally:
        await gateway.aclose()
        await client.close()


def main() -> None:
    # Arguments first: `--help` and a usage error need no configuration.
    args = _parser().parse_args(sys.argv[1:])
    settings = load_settings(Settings)
    # The report goes to stdout; warnings and errors, for the operator, to stderr.
    logger.remove()
    logger.add(sys.stderr, level="WARNING", format="{level}: {message} {extra}")
    sys.exit(asyncio.run(main_async(args, settings)))


if __name__ == "__main__":
    main()
