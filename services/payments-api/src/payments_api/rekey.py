"""Moves customer PII to the current encryption key (after a rotation), in batches, and seals
webhook bodies stored in the clear before sealing existed.

uv run python -m payments_api.rekey run [--batch-size 500] [--rehash] [--dry-run]
uv run python -m payments_api.rekey legacy-lookup-key

Rotation, step by step (docs/SECURITY.md): put the new key in PAYMENT_ENCRYPTION_KEY(_ID) and
the previous one in PAYMENT_ENCRYPTION_OLD_KEYS, roll out every service that opens PII, run
`run` until it reports nothing left, then drop the old key. `--rehash` recomputes the look-up
hashes after PAYMENT_LOOKUP_KEY itself changed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from typing import Final

from paycore.kit.crypto import cipher_for, legacy_lookup_key
from paycore.kit.mongo import mongo_client
from paycore.kit.rekey import RekeyReport, SealedField, rekey_collection, seal_plain_field
from paycore.kit.service import InfraSettings
from paycore.kit.settings import EncryptionSettings, load_settings
from paycore.webhooks.models import BODY_CONTEXT

# Every sealed field, by collection, with the context it is sealed under.
SEALED: Final[dict[str, tuple[SealedField, ...]]] = {
    "payments": (
        SealedField("customer.name", "customer.name"),
        SealedField("customer.email", "customer.email", "customer.email_hash"),
        SealedField("customer.phone", "customer.phone", "customer.phone_hash"),
    ),
    "invoices": (
        SealedField("client.email", "invoice.client.email", "client.email_hash"),
        SealedField("client.phone", "invoice.client.phone"),
        SealedField("client.address", "invoice.client.address"),
    ),
    "webhook_logs": (SealedField("sealed_body", BODY_CONTEXT),),
}


class RekeySettings(InfraSettings, EncryptionSettings):
    service_name: str = "rekey"


async def rekey_all(
    settings: RekeySettings, *, batch_size: int = 500, rehash: bool = False, dry_run: bool = False
) -> list[RekeyReport]:
    """One pass per collection (webhook bodies stored in the clear before sealing existed are
    sealed first); run again while any report has conflicts."""
    cipher = cipher_for(settings)
    client = mongo_client(settings)
    try:
        database = client[settings.mongo_db]
        plain_bodies = await seal_plain_field(
            database["webhook_logs"],
            "body",
            "sealed_body",
            BODY_CONTEXT,
            cipher,
            batch_size=batch_size,
            dry_run=dry_run,
        )
        reports = [plain_bodies]
        for name, fields in SEALED.items():
            reports.append(
                await rekey_collection(
                    database[name],
                    fields,
                    cipher,
                    batch_size=batch_size,
                    rehash=rehash,
                    dry_run=dry_run,
                )
            )
        return reports
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="re-encrypt every value sealed with an old key")
    run.add_argument("--batch-size", type=int, default=500)
    run.add_argument("--rehash", action="store_true", help="recompute look-up hashes too")
    run.add_argument("--dry-run", action="store_true", help="count, write nothing")
    commands.add_parser(
        "legacy-lookup-key",
        help="print the look-up key derived from PAYMENT_ENCRYPTION_KEY (for PAYMENT_LOOKUP_KEY)",
    )
    args = parser.parse_args(argv)
    if args.command == "legacy-lookup-key":
        key = load_settings(EncryptionSettings).encryption_key
        sys.stdout.write(base64.b64encode(legacy_lookup_key(key)).decode() + "\n")
        return
    settings = load_settings(RekeySettings)
    reports = asyncio.run(
        rekey_all(settings, batch_size=args.batch_size, rehash=args.rehash, dry_run=args.dry_run)
    )
    for report in reports:
        sys.stdout.write(
            f"{report.collection}: scanned {report.scanned}, rewrote {report.resealed}"
            f" ({report.values} values), conflicts {report.conflicts}\n"
        )
    if any(report.conflicts for report in reports):
        sys.stdout.write("some documents changed during the pass: run again\n")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
