"""The operator command for every dead-letter queue (webhooks, refunds, emails):

    python -m paycore.dead_letters list QUEUE [--limit N]
    python -m paycore.dead_letters replay QUEUE (--all | --id ID) [--per-second N]
    python -m paycore.dead_letters drop QUEUE --id ID

QUEUE is a consumer queue (`paycore.kit.broker.CONSUMER_QUEUES`), e.g. `email-worker.emails`;
its dead letters wait in `<QUEUE>.dlq`. `list` prints each dead letter (message id, the error
that sent it there, when, after how many attempts) and leaves it in place. `replay` moves dead
letters back to the work queue with a fresh attempt count, rate limited; with `--id` only the
one whose message id (or, for webhooks, webhook log id) is ID. Consumers are idempotent, so a
replayed message that already took effect changes nothing. A webhook's log is reopened first,
so the processor applies it again. `drop` deletes the one dead letter whose key is ID (one that
can never succeed, e.g. malformed; there is no drop-all) and leaves the others in order; it
prints and logs (WARNING) its event id, routing key and last error, so the record survives in
the operator's terminal and the logs. A dropped webhook's log stays, FAILED, marked `dropped_at`.
Same settings (environment) as the services.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from aio_pika import IncomingMessage
from loguru import logger

from paycore.kit.audit import acting_as
from paycore.kit.broker import (
    ATTEMPT_HEADER,
    CONSUMER_QUEUES,
    FAILED_AT_HEADER,
    LAST_ERROR_HEADER,
    Consumer,
)
from paycore.kit.service import InfraSettings, Resources
from paycore.kit.settings import load_settings
from paycore.webhooks.models import WebhookLog, WebhookStatus
from paycore.webhooks.repository import WebhookLogRepository

WEBHOOKS = "webhook-processor.webhooks"
Prepare = Callable[[IncomingMessage], Awaitable[None]]


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


def webhook_log_id(message: IncomingMessage) -> str | None:
    """The webhook log a webhook message names (`data.log_id`), if it names one."""
    try:
        data = json.loads(message.body).get("data", {})
    except (ValueError, AttributeError):
        return None
    log_id = data.get("log_id") if isinstance(data, dict) else None
    return log_id if isinstance(log_id, str) else None


def key_of(queue: str, message: IncomingMessage) -> str:
    """What `--id` matches: the webhook log id for webhooks, else the message id."""
    return (webhook_log_id(message) if queue == WEBHOOKS else None) or str(message.message_id)


async def reopen_webhook_log(message: IncomingMessage) -> None:
    log_id = webhook_log_id(message)
    repository = WebhookLogRepository()
    log = await repository.get(log_id) if log_id else None
    if log is not None:
        await repository.reopen(log, "replayed from the dead-letter queue")


async def mark_webhook_log_dropped(message: IncomingMessage) -> None:
    """The log stays (the record of what Cashfree sent): FAILED, no longer dead-lettered."""
    log_id = webhook_log_id(message)
    repository = WebhookLogRepository()
    log = await repository.get(log_id) if log_id else None
    if log is not None:
        error = describe(WEBHOOKS, message)["error"]
        await repository.update(
            log,
            {
                "status": WebhookStatus.FAILED.value,
                "dead_lettered": False,
                "reason": f"dropped from the dead-letter queue by an operator: {error}",
                "dropped_at": datetime.now(UTC),
            },
        )


PREPARE: dict[str, Prepare] = {WEBHOOKS: reopen_webhook_log}
ON_DROP: dict[str, Prepare] = {WEBHOOKS: mark_webhook_log_dropped}


def describe(queue: str, message: IncomingMessage) -> dict[str, object]:
    headers = message.headers or {}
    return {
        "id": key_of(queue, message),
        "attempts": headers.get(ATTEMPT_HEADER),
        "failed_at": str(headers.get(FAILED_AT_HEADER, "")) or None,
        "error": str(headers.get(LAST_ERROR_HEADER, "no error recorded"))[:300],
    }


async def list_dead_letters(consumer: Consumer, queue: str, limit: int) -> int:
    """Prints up to `limit` dead letters and puts every one back where it was."""
    held: list[IncomingMessage] = []
    try:
        out(f"{consumer.dead_letters.name}: {await consumer.dead_letter_count()} message(s)")
        while len(held) < limit and (message := await consumer.take_dead_letter()) is not None:
            held.append(message)  # unacked until the end: not taken again meanwhile
            out(json.dumps(describe(queue, message)))
    finally:
        for message in held:
            await message.nack(requeue=True)
    return 0


async def replay(
    consumer: Consumer,
    queue: str,
    only: str | None,
    per_second: float,
    prepare: Prepare | None = None,
) -> int:
    """Moves dead letters back to the work queue (all, or the one whose key is `only`); the
    others are put back where they were. Returns how many were replayed.

    Each message is replayed at most once per run: one that fails again at once is back in the
    dead-letter queue while the run goes on, and is left there (not replayed in a loop)."""
    interval = 1 / per_second if per_second > 0 else 0.0
    held: list[IncomingMessage] = []
    done: set[str] = set()
    replayed = 0
    try:
        while (message := await consumer.take_dead_letter()) is not None:
            key = key_of(queue, message)
            if (only is not None and key != only) or key in done:
                held.append(message)
                continue
            done.add(key)
            started = time.monotonic()
            if prepare is not None:
                await prepare(message)
            await consumer.requeue_dead_letter(message)
            replayed += 1
            details = describe(queue, message)
            out(f"replayed {details['id']}: {details['error']}")
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        for message in held:
            await message.nack(requeue=True)
    out(f"{replayed} replayed")
    return replayed


def routing_key_of(message: IncomingMessage) -> str | None:
    """The routing key it was first published with (the envelope's type; the dead-letter
    copy itself was routed by the dead-letter queue's name)."""
    try:
        kind = json.loads(message.body).get("type")
    except (ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


async def drop(consumer: Consumer, queue: str, only: str, on_drop: Prepare | None = None) -> int:
    """Deletes the dead letter whose key is `only` (acked, never to be seen again); the others
    are put back where they were. Returns how many were dropped (0 or 1)."""
    held: list[IncomingMessage] = []
    dropped = 0
    try:
        while (message := await consumer.take_dead_letter()) is not None:
            if dropped or key_of(queue, message) != only:
                held.append(message)
                continue
            details = describe(queue, message)
            event_id, routing_key = str(message.message_id), routing_key_of(message)
            if on_drop is not None:
                await on_drop(message)
            await message.ack()
            dropped = 1
            logger.warning(
                # In the message too: a plain-text log shows no extras.
                "dropped a dead letter of {queue}: {key} (event {event_id}, routing key"
                " {routing_key}): {error}",
                queue=queue,
                key=details["id"],
                event_id=event_id,
                routing_key=routing_key,
                error=details["error"],
            )
            out(
                f"dropped {details['id']}: "
                + json.dumps({"event_id": event_id, "routing_key": routing_key, **details})
            )
    finally:
        for message in held:
            await message.nack(requeue=True)
    out(f"{dropped} dropped")
    return dropped


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m paycore.dead_letters")
    commands = root.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="print the dead letters of a queue")
    listing.add_argument("queue", choices=CONSUMER_QUEUES)
    listing.add_argument("--limit", type=int, default=100)
    again = commands.add_parser("replay", help="move dead letters back to the work queue")
    again.add_argument("queue", choices=CONSUMER_QUEUES)
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true")
    which.add_argument("--id", dest="only", help="a message id (webhooks: the log id, whk_…)")
    again.add_argument("--per-second", type=float, default=20.0)
    # Only by id: a message is dropped after it was looked at (`list`), never in bulk.
    removal = commands.add_parser("drop", help="delete one dead letter that can never succeed")
    removal.add_argument("queue", choices=CONSUMER_QUEUES)
    removal.add_argument(
        "--id", dest="only", required=True, help="a message id (webhooks: the log id, whk_…)"
    )
    return root


async def run(args: argparse.Namespace, settings: InfraSettings) -> int:
    resources = Resources(settings, models=[WebhookLog])
    async with resources.running():
        # What a replay changes (a webhook log reopened) is the operator's doing.
        acting_as("operator", os.environ.get("OPERATOR") or os.environ.get("USER") or "operator")
        assert resources.broker is not None
        consumer = Consumer(resources.broker, settings, args.queue, "", ())
        if args.command == "list":
            return await list_dead_letters(consumer, args.queue, args.limit)
        if args.command == "drop":
            dropped = await drop(consumer, args.queue, args.only, ON_DROP.get(args.queue))
            return 0 if dropped else 1
        prepare = PREPARE.get(args.queue)
        replayed = await replay(consumer, args.queue, args.only, args.per_second, prepare)
        return 0 if replayed or args.only is None else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return asyncio.run(run(args, load_settings(InfraSettings)))


if __name__ == "__main__":
    raise SystemExit(main())
