"""Every query on webhook logs. Status changes go through `guarded_update`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from paycore.kit.events import OutboxEvent, now_ms
from paycore.kit.mongo import GroupCommit
from paycore.kit.outbox import ConfirmedRemovals
from paycore.kit.state import guarded_statement, guarded_update, notify_outbox, to_mongo
from paycore.webhooks.models import FINAL_STATUSES, WebhookLog, WebhookStatus

# The log id is also the document's `_id`: FerretDB (the local server) looks documents up
# quickly only by `_id`, and on MongoDB it is the primary index anyway. The outbox relays of
# this collection use the same key (`Resources(outboxes=[(WebhookLog, KEY)])`).
KEY = "_id"
# Beanie's own fields: the document's `_id` is KEY, and there is no revision.
_NOT_STORED = frozenset({"id", "revision_id"})
# How long a shared update (`update(shared=True)`: the processor's final write of a log) waits for
# other logs' to share its bulk write. The processor handles up to `prefetch_count` messages
# at once, and the final write follows the payment's own update: only the message's ack and
# the log's events wait.
SHARED_LINGER_SECONDS = 0.1


def from_mongo(raw: Mapping[str, Any]) -> WebhookLog:
    log: WebhookLog = WebhookLog.model_validate({k: v for k, v in raw.items() if k != "_id"})
    return log


class WebhookLogRepository:
    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        return WebhookLog.get_pymongo_collection()

    async def insert(self, log: WebhookLog) -> dict[str, Any]:
        """Stores a new log and returns the document as stored; a duplicate event id raises
        (check with `kit.mongo.is_duplicate_key`). Its outbox is not handed to a relay: the
        ingress publishes it itself, the sweep catches what that misses."""
        # model_dump already gives plain values all the way down (no second walk: to_mongo).
        document: dict[str, Any] = {KEY: log.log_id, **log.model_dump(exclude=_NOT_STORED)}
        await self.collection.insert_one(document)
        return document

    def __init__(self, removal_linger_seconds: float = 0.0) -> None:
        # Webhooks accepted within the linger share one write for their removals (see
        # ConfirmedRemovals and kit.outbox.removal_linger).
        self._removals = ConfirmedRemovals(
            lambda: self.collection, linger_seconds=removal_linger_seconds
        )
        # Logs finished at about the same time share one write (see `update`).
        self._shared = GroupCommit(lambda: self.collection, linger_seconds=SHARED_LINGER_SECONDS)

    async def remove_published(self, log_id: str, stored_event: Mapping[str, Any]) -> None:
        """Drops one confirmed event from the outbox (exact stored value, as the relay does)."""
        await self._removals.remove(log_id, [dict(stored_event)])

    async def _one(self, query: Mapping[str, Any]) -> WebhookLog | None:
        raw = await self.collection.find_one(dict(query))
        return from_mongo(raw) if raw is not None else None

    async def delete_received_before(self, cutoff: datetime, batch_size: int = 500) -> int:
        """Deletes logs received before `cutoff` that are final and not dead-lettered (the
        retention of `WEBHOOK_LOG_RETENTION_DAYS`), a batch of ids at a time; returns how many.
        A find plus `$in` delete, not a TTL index: FerretDB has no TTL indexes."""
        query = {
            "received_at": {"$lt": cutoff},
            "status": {"$in": [status.value for status in FINAL_STATUSES]},
            "dead_lettered": False,
        }
        deleted = 0
        while True:
            batch = await self.collection.find(query, {KEY: 1}).to_list(batch_size)
            if not batch:
                return deleted
            result = await self.collection.delete_many(
                {KEY: {"$in": [doc[KEY] for doc in batch]}, **query}
            )
            deleted += result.deleted_count

    async def get(self, log_id: str) -> WebhookLog | None:
        return await self._one({KEY: log_id})

    async def get_by_event_id(self, event_id: str) -> WebhookLog | None:
        return await self._one({"event_id": event_id})

    async def update(
        self,
        log: WebhookLog,
        changes: Mapping[str, Any],
        *,
        events: Iterable[OutboxEvent] = (),
        inc: Mapping[str, int] | None = None,
        shared: bool = False,
    ) -> WebhookLog | None:
        """One guarded update of the log (None if it changed in between). `shared`: written in
        one bulk write with the other logs' updated meanwhile (it waits up to
        SHARED_LINGER_SECONDS for them); the log returned is then built, not read back."""
        if shared:
            return await self._update_shared(log, changes, list(events), inc)
        raw = await guarded_update(
            self.collection,
            log.log_id,
            version=log.version,
            set_fields=changes,
            inc=inc,
            events=events,
        )
        return from_mongo(raw) if raw is not None else None

    async def _update_shared(
        self,
        log: WebhookLog,
        changes: Mapping[str, Any],
        events: list[OutboxEvent],
        inc: Mapping[str, int] | None,
    ) -> WebhookLog | None:
        now = now_ms()  # as stored, so the read-back check below can compare it
        statement = guarded_statement(
            log.log_id, version=log.version, set_fields=changes, inc=inc, events=events, now=now
        )
        if await self._shared.write(statement):
            # The log as the statement left it, without reading it back.
            document = log.model_dump(exclude=_NOT_STORED) | to_mongo(dict(changes))
            document |= {"updated_at": now, "outbox": [*document["outbox"], *to_mongo(events)]}
            for field, step in {"version": 1, **dict(inc or {})}.items():
                document[field] += step
            written: WebhookLog | None = from_mongo(document)
        else:
            # A statement of the shared write changed nothing: this one or another log's.
            written = await self.get(log.log_id)
            if written is not None and not _written_by(written, log.version, now, events):
                written = None
        if written is not None:
            notify_outbox(self.collection.name, log.log_id, events)
        return written

    async def list_for_order(self, order_id: str) -> list[WebhookLog]:
        """Every log naming this order, oldest first."""
        cursor = self.collection.find({"order_id": order_id}).sort("received_at", ASCENDING)
        return [from_mongo(raw) async for raw in cursor]

    async def list_dead_lettered(self, limit: int = 100) -> list[WebhookLog]:
        cursor = (
            self.collection.find({"dead_lettered": True})
            .sort([("received_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [from_mongo(raw) async for raw in cursor]

    async def count_by_status(self, status: WebhookStatus) -> int:
        return await self.collection.count_documents({"status": status.value})

    async def reopen(self, log: WebhookLog, note: str) -> WebhookLog | None:
        """Puts a log back to RECEIVED so that the next delivery applies it again."""
        return await self.update(
            log,
            {
                "status": WebhookStatus.RECEIVED.value,
                "dead_lettered": False,
                "reason": note,
                "reopened_at": datetime.now(UTC),
            },
        )


def _written_by(
    stored: WebhookLog, version: int, updated_at: datetime, events: list[OutboxEvent]
) -> bool:
    """Whether `stored` is the log as one update from `version` at `updated_at` (milliseconds)
    with `events` left it: the next version, that time, those events in its outbox."""
    stored_ids = {event.envelope.event_id for event in stored.outbox}
    return (
        stored.version == version + 1
        and stored.updated_at == updated_at
        and all(event.envelope.event_id in stored_ids for event in events)
    )
