"""Operator commands for the audit trail.

    python -m reconciler.audit verify            every chain; exit 1 if one is broken
    python -m reconciler.audit history payment pay_…   one resource's records, in order

`verify` first moves entries a crashed writer left pending into their chains (as the
reconciler's scheduled check does), then walks every chain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from paycore.audit.models import AuditRecord
from paycore.audit.trail import AuditTrail, sweep_and_verify
from paycore.disputes.models import Dispute
from paycore.invoices.models import Invoice
from paycore.kit.mongo import connect_mongo
from paycore.kit.settings import load_settings
from paycore.payments.models import Payment
from paycore.refunds.models import Refund

from reconciler.settings import Settings

# An invoice's number is unique per merchant only: its id is the two together.
ID_HELP = "pay_…, rfd_…, an invoice as <user id>:<invoice number> (usr_demo:INV-7), …"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m reconciler.audit")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("verify", help="verify every audit chain")
    history = commands.add_parser("history", help="one resource's audit records")
    history.add_argument(
        "resource_type", help="payment, refund, invoice, dispute, reconciliation_item"
    )
    history.add_argument("resource_id", help=ID_HELP)
    return root


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect_mongo(settings, [Payment, Refund, Invoice, Dispute, AuditRecord])
    try:
        if args.command == "verify":
            broken, checked = await sweep_and_verify()
            for resource in broken:
                out(f"BROKEN {resource}")
            out(f"{checked} records checked, {len(broken)} chain(s) broken")
            return 1 if broken else 0
        records = await AuditTrail().history(args.resource_type, args.resource_id)
        for record in records:
            out(json.dumps(record.model_dump(mode="json", exclude={"id"}), sort_keys=True))
        if not records:
            sys.stderr.write(
                f"no audit records for {args.resource_type} {args.resource_id} ({ID_HELP})\n"
            )
        return 0 if records else 1
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return asyncio.run(run(args, load_settings(Settings)))


if __name__ == "__main__":
    raise SystemExit(main())
