"""Operator commands for stored and dead-lettered webhooks.

    python -m webhook_processor.ops dead-letters [--limit N]
    python -m webhook_processor.ops replay (--all | --id LOG_ID) [--per-second N]
    python -m webhook_processor.ops reprocess LOG_ID [--dry-run]
    python -m webhook_processor.ops refund-extra-capture PAYMENT_ID CF_PAYMENT_ID

`replay` moves dead-lettered messages back to the work queue (rate limited) after reopening
their logs, so the running processors apply them again (the same as
`python -m paycore.dead_letters replay webhook-processor.webhooks`, the command for every
dead-letter queue). `reprocess` applies one stored log here
and now (reopening it if it was final); with `--dry-run` it prints the state change it would
make and changes nothing. `refund-extra-capture` refunds a second capture on one order (the
`second_capture` alert names it), leaving the payment's own refundable amount alone; the
refund-worker executes it. Events written meanwhile are published by the services' outbox
relays.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

from paycore import dead_letters
from paycore.gateway import CashfreeGateway
from paycore.kit.audit import acting_as
from paycore.kit.broker import Consumer
from paycore.kit.settings import load_settings
from paycore.webhooks.service import WebhookService

from webhook_processor.settings import Settings
from webhook_processor.wiring import QUEUE, processor_resources, webhook_service


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m webhook_processor.ops")
    commands = root.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("dead-letters", help="list dead-lettered webhooks and errors")
    listing.add_argument("--limit", type=int, default=100)
    replay = commands.add_parser("replay", help="move dead letters back to the work queue")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true")
    which.add_argument("--id", dest="log_id", help="the webhook log id (whk_…)")
    replay.add_argument("--per-second", type=float, default=20.0)
    reprocess = commands.add_parser("reprocess", help="apply one stored webhook log now")
    reprocess.add_argument("log_id")
    reprocess.add_argument("--dry-run", action="store_true")
    extra = commands.add_parser(
        "refund-extra-capture", help="refund a second capture on one order (money received twice)"
    )
    extra.add_argument("payment_id")
    extra.add_argument("cf_payment_id")
    return root


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    resources, consumer = processor_resources(settings, relays=False)
    gateway = CashfreeGateway(settings)
    try:
        async with resources.running():
            # What these commands change is audited as the operator's (paycore.kit.audit).
            acting_as(
                "operator", os.environ.get("OPERATOR") or os.environ.get("USER") or "operator"
            )
            service = webhook_service(settings, gateway)
            if args.command == "dead-letters":
                return await list_dead_letters(consumer, service, args.limit)
            if args.command == "replay":
                return await replay(consumer, args.log_id, args.per_second)
            if args.command == "refund-extra-capture":
                refund = await service.refunds.refund_extra_capture(
                    args.payment_id, args.cf_payment_id, by="operator"
                )
                out(f"{refund.refund_id} {refund.status.value} {refund.amount} {refund.currency}")
                return 0
            if args.dry_run:
                for line in await service.plan(args.log_id):
                    out(line)
                return 0
            done = await service.reprocess(args.log_id)
            out(f"{done.log_id} {done.status.value} {done.outcome or ''} {done.reason or ''}")
            return 0
    finally:
        await gateway.aclose()


async def list_dead_letters(consumer: Consumer, service: WebhookService, limit: int) -> int:
    depth = await consumer.dead_letter_count()
    logs = await service.dead_lettered(limit)
    out(f"dead-letter queue {consumer.dead_letters.name}: {depth} message(s)")
    for log in logs:
        line = {
            "log_id": log.log_id,
            "event_type": log.event_type,
            "order_id": log.order_id,
            "attempts": log.attempts,
            "received_at": log.received_at.isoformat(),
            "error": log.last_error or log.reason,
        }
        out(json.dumps(line))
    return 0


async def replay(consumer: Consumer, only: str | None, per_second: float) -> int:
    """The generic dead-letter replay (`paycore.dead_letters`), reopening each webhook's log."""
    replayed = await dead_letters.replay(
        consumer, QUEUE, only, per_second, dead_letters.reopen_webhook_log
    )
    return 0 if replayed or only is None else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = load_settings(Settings)
    return asyncio.run(run(args, settings))


if __name__ == "__main__":
    raise SystemExit(main())
