"""Every query on refunds. State changes go through `guarded_update` only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from paycore.kit.events import OutboxEvent
from paycore.kit.mongo import find_one
from paycore.kit.state import TransitionRecord, guarded_update, insert_with_events
from paycore.refunds.models import Refund, RefundStatus


class RefundRepository:
    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        return Refund.get_pymongo_collection()

    async def insert(self, refund: Refund) -> Refund:
        await insert_with_events(refund)
        return refund

    async def get(self, refund_id: str) -> Refund | None:
        return await find_one(Refund, {"_id": refund_id})

    async def get_by_gateway_id(self, order_id: str, cf_refund_id: str) -> Refund | None:
        """The order's refund that Cashfree knows as `cf_refund_id` (whatever our id for it)."""
        return await find_one(Refund, {"order_id": order_id, "cf_refund_id": cf_refund_id})

    async def get_by_idempotency_key(self, user_id: str, key: str) -> Refund | None:
        return await find_one(Refund, {"user_id": user_id, "idempotency_key": key})

    async def list_for_payment(self, payment_id: str) -> list[Refund]:
        cursor = self.collection.find({"payment_id": payment_id}).sort("refund_id", DESCENDING)
        return [Refund.model_validate(raw) async for raw in cursor]

    async def list_stale(
        self,
        statuses: Iterable[RefundStatus],
        older_than: datetime,
        limit: int = 100,
        now: datetime | None = None,
    ) -> list[Refund]:
        """Refunds in `statuses` not touched since `older_than` and, once polled, due again by
        their schedule (`recheck.due_at` at `now`), least recently touched first."""
        query = {
            "status": {"$in": [s.value for s in statuses]},
            "updated_at": {"$lt": older_than},
            "$or": [
                {"recheck": {"$exists": False}},
                {"recheck": None},
                {"recheck.due_at": {"$lte": now or datetime.now(UTC)}},
            ],
        }
        cursor = self.collection.find(query).sort("updated_at", ASCENDING).limit(limit)
        return [Refund.model_validate(raw) async for raw in cursor]

    async def transition(
        self,
        refund: Refund,
        target: RefundStatus,
        record: TransitionRecord,
        events: Iterable[OutboxEvent] = (),
        changes: Mapping[str, Any] | None = None,
        inc: Mapping[str, int] | None = None,
    ) -> Refund | None:
        raw = await guarded_update(
            self.collection,
            refund.refund_id,
            where={"status": refund.status.value},
            version=refund.version,
            set_fields={**dict(changes or {}), "status": target.value},
            inc=inc,
            history=[record],
            events=events,
        )
        return Refund.model_validate(raw) if raw is not None else None

    async def update_fields(
        self, refund: Refund, changes: Mapping[str, Any], events: Iterable[OutboxEvent] = ()
    ) -> Refund | None:
        """Changes fields other than the status (the gateway's interim status, attempts), only
        while the refund is still in the status and version it was read at."""
        raw = await guarded_update(
            self.collection,
            refund.refund_id,
            where={"status": refund.status.value},
            version=refund.version,
            set_fields=changes,
            events=events,
        )
        return Refund.model_validate(raw) if raw is not None else None
