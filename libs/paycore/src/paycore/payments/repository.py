"""Every query on payments. State changes go through `guarded_update` only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from paycore.invoices import sync
from paycore.kit import audit
from paycore.kit.events import OutboxEvent
from paycore.kit.mongo import find_one
from paycore.kit.recheck import Recheck
from paycore.kit.state import (
    TransitionRecord,
    drain_audit_soon,
    guarded_update,
    insert_with_events,
)
from paycore.payments.models import (
    HistoryQuery,
    Payment,
    PaymentStatus,
    Transaction,
    payment_id_for,
)
from paycore.payments.states import CAPTURED, OPEN, REFUNDABLE


class PaymentRepository:
    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        return Payment.get_pymongo_collection()

    async def insert(self, payment: Payment) -> Payment:
        """Inserts a new payment; a duplicate key (id or idempotency key) raises."""
        await insert_with_events(payment, plain_dump=True)
        return payment

    async def _change(self, payment: Payment, **change: Any) -> Payment | None:
        """One `guarded_update` of `payment` at the version it was read at: the stored payment,
        or None if it changed in between (nothing written)."""
        raw = await guarded_update(
            self.collection, payment.payment_id, version=payment.version, **change
        )
        return await self._stored(raw)

    async def _stored(self, raw: Mapping[str, Any] | None) -> Payment | None:
        """The payment a write stored, with its invoice brought in step: every payment write
        goes through here, so no caller has to remember the invoice (`sync_invoice` is guarded
        by the payment's version, so a late or repeated sync changes nothing)."""
        if raw is None:
            return None
        payment: Payment = Payment.model_validate(raw)
        await self.sync_invoice(payment)
        return payment

    async def sync_invoice(self, payment: Payment) -> bool:
        """Brings the payment's invoice in step with it (`paycore.invoices.sync`); True if the
        invoice changed."""
        return await sync.sync_invoice(payment, is_captured=self.is_captured)

    async def is_captured(self, payment_id: str) -> bool:
        """Whether the payment took money (SUCCESS or later); False if there is no such one."""
        raw = await self.collection.find_one({"_id": payment_id}, {"status": 1})
        return raw is not None and raw["status"] in CAPTURED

    async def get(self, payment_id: str) -> Payment | None:
        return await find_one(Payment, {"_id": payment_id})

    async def get_by_order_id(self, order_id: str) -> Payment | None:
        """Our order ids name their payment (`ord_X` belongs to `pay_X`): one `_id` look-up.
        An order id of another shape (none of ours, or made by hand) is searched for."""
        payment_id = payment_id_for(order_id)
        if payment_id is not None:
            found = await find_one(Payment, {"_id": payment_id, "order_id": order_id})
            if found is not None:
                return found
        return await find_one(Payment, {"order_id": order_id})

    async def get_by_idempotency_key(self, user_id: str, key: str) -> Payment | None:
        return await find_one(Payment, {"user_id": user_id, "idempotency_key": key})

    async def list_for_user(self, user_id: str, history: HistoryQuery) -> list[Payment]:
        """Newest first; payment ids sort by creation time, so they double as the cursor."""
        query: dict[str, Any] = {"user_id": user_id}
        if history.statuses:
            query["status"] = {"$in": [status.value for status in history.statuses]}
        created: dict[str, datetime] = {}
        if history.created_from is not None:
            created["$gte"] = history.created_from
        if history.created_to is not None:
            created["$lt"] = history.created_to
        if created:
            query["created_at"] = created
        if history.before_id is not None:
            query["payment_id"] = {"$lt": history.before_id}
        cursor = self.collection.find(query).sort("payment_id", DESCENDING).limit(history.limit)
        return [Payment.model_validate(raw) async for raw in cursor]

    async def list_by_settlement_id(self, cf_settlement_id: str) -> list[Payment]:
        """Payments whose settlement sub-record names this gateway settlement (all of them)."""
        query = {"settlement.cf_settlement_id": cf_settlement_id}
        cursor = self.collection.find(query).sort("payment_id", DESCENDING)
        return [Payment.model_validate(raw) async for raw in cursor]

    async def order_ids_created(self, start: datetime, end: datetime) -> list[str]:
        """Order ids of the payments created in [start, end), oldest first."""
        query = {"created_at": {"$gte": start, "$lt": end}}
        cursor = self.collection.find(query, {"order_id": 1}).sort("created_at", ASCENDING)
        return [raw["order_id"] async for raw in cursor]

    async def order_ids_awaiting_settlement(self, created_since: datetime) -> list[str]:
        """Order ids of captured payments created since `created_since` that hold no SETTLED
        settlement, oldest first."""
        query = {
            "status": {"$in": [s.value for s in CAPTURED]},
            "created_at": {"$gte": created_since},
            "$or": [{"settlement": None}, {"settlement.status": {"$ne": "SETTLED"}}],
        }
        cursor = self.collection.find(query, {"order_id": 1}).sort("created_at", ASCENDING)
        return [raw["order_id"] async for raw in cursor]

    async def payment_ids_of_invoice(
        self, user_id: str, invoice_number: str, statuses: Iterable[PaymentStatus]
    ) -> list[str]:
        """Ids of the user's payments of this invoice in `statuses`, sorted."""
        query = {
            "user_id": user_id,
            "invoice_number": invoice_number,
            "status": {"$in": [status.value for status in statuses]},
        }
        return sorted([raw["_id"] async for raw in self.collection.find(query, {"_id": 1})])

    async def list_due_for_recheck(
        self, statuses: Iterable[PaymentStatus], now: datetime, limit: int = 100
    ) -> list[Payment]:
        """Payments in `statuses` whose janitor check is due at `now`, oldest due first.
        Payments stored before schedules existed count as due while open."""
        wanted = [status.value for status in statuses]
        query = {
            "status": {"$in": wanted},
            "$or": [
                {"recheck.due_at": {"$lte": now}},
                {"recheck": {"$exists": False}, "status": {"$in": [s.value for s in OPEN]}},
            ],
        }
        cursor = (
            self.collection.find(query)
            .sort([("recheck.due_at", ASCENDING), ("created_at", ASCENDING)])
            .limit(limit)
        )
        return [Payment.model_validate(raw) async for raw in cursor]

    async def set_recheck(self, payment_id: str, schedule: Recheck) -> None:
        """Stores the janitor's schedule; not a state change, so no version bump."""
        await self.collection.update_one(
            {"_id": payment_id}, {"$set": {"recheck": schedule.model_dump(mode="python")}}
        )

    async def list_holding_reservations(
        self, untouched_since: datetime, limit: int | None = None
    ) -> list[Payment]:
        """Payments holding a refund reservation, not updated since `untouched_since`, least
        recently updated first; at most `limit` (None: all)."""
        query = {"refund_reservations.0": {"$exists": True}, "updated_at": {"$lt": untouched_since}}
        cursor = self.collection.find(query).sort("updated_at", ASCENDING).limit(limit or 0)
        return [Payment.model_validate(raw) async for raw in cursor]

    async def ids_refunded_beyond_captured(self) -> list[str]:
        """Payments whose refunded plus reserved amount exceeds what was captured, or whose
        refundable amount went negative (a money invariant: never allowed)."""
        touched = {"$or": [{"refunded_amount": {"$gt": 0}}, {"refund_reserved_amount": {"$gt": 0}}]}
        fields = [
            "captured_amount",
            "refunded_amount",
            "refund_reserved_amount",
            "refundable_amount",
        ]
        found = []
        async for raw in self.collection.find(touched, dict.fromkeys(fields, 1)):
            spent = raw.get("refunded_amount", 0) + raw.get("refund_reserved_amount", 0)
            if spent > raw.get("captured_amount", 0) or raw.get("refundable_amount", 0) < 0:
                found.append(raw["_id"])
        return found

    async def transition(
        self,
        payment: Payment,
        target: PaymentStatus,
        record: TransitionRecord,
        events: Iterable[OutboxEvent] = (),
        changes: Mapping[str, Any] | None = None,
        also_audit: Sequence[dict[str, Any]] = (),
    ) -> Payment | None:
        """One guarded update: status, version, fields, history and outbox move together (and
        the audit entries `also_audit` of actions taken with it: `guarded_update`)."""
        return await self._change(
            payment,
            where={"status": payment.status.value},
            set_fields={**dict(changes or {}), "status": target.value},
            history=[record],
            events=events,
            also_audit=also_audit,
        )

    async def record_ignored(self, payment: Payment, record: TransitionRecord) -> Payment | None:
        """Keeps a late or contradicting event in the history without changing the state."""
        return await self._change(
            payment,
            where={"status": payment.status.value},
            history=[record.model_copy(update={"ignored": True})],
        )

    async def note_attempt_once(
        self,
        payment: Payment,
        attempts_field: Literal["failed_attempts", "extra_captures"],
        cf_payment_id: str,
        record: TransitionRecord,
        events: Iterable[OutboxEvent],
    ) -> Payment | None:
        """Adds the attempt to `attempts_field` with its history and events, unless it is there
        already; the status stays as it is. None if the payment changed in between."""
        return await self._change(
            payment,
            where={"status": payment.status.value, attempts_field: {"$ne": cf_payment_id}},
            history=[record],
            events=events,
            push={attempts_field: cf_payment_id},
        )

    async def append_events(
        self,
        payment: Payment,
        events: Iterable[OutboxEvent],
        changes: Mapping[str, Any] | None = None,
    ) -> Payment | None:
        return await self._change(
            payment,
            where={"status": payment.status.value},
            set_fields=changes,
            events=events,
        )

    async def reserve_refund(self, payment_id: str, refund_id: str, amount: int) -> Payment | None:
        """Reserves `amount` for `refund_id` if that much is still refundable.

        No version guard: the amount guard alone decides, so concurrent refunds never wait on
        each other, and together they can never reserve more than was captured.
        """
        entry = audit.new_entry(
            "payment.refund_reserved",
            after={"refund_id": refund_id, "increments": {"refund_reserved_amount": amount}},
        )
        update = {
            "$inc": {
                "refundable_amount": -amount,
                "refund_reserved_amount": amount,
                "version": 1,
            },
            "$push": {
                "refund_reservations": refund_id,
                "reservations": {"refund_id": refund_id, "amount": amount},
            },
            "$set": {"updated_at": datetime.now(UTC)},
        }
        raw = await self.collection.find_one_and_update(
            {
                "_id": payment_id,
                "status": {"$in": [status.value for status in REFUNDABLE]},
                "refundable_amount": {"$gte": amount},
                "refund_reservations": {"$nin": [refund_id]},
            },
            audit.pending_update(self.collection, update, entry),
            return_document=ReturnDocument.AFTER,
        )
        if raw is not None:
            drain_audit_soon(self.collection, payment_id, raw)
        return await self._stored(raw)

    async def settle_refund(
        self,
        payment: Payment,
        refund_id: str,
        amount: int,
        target: PaymentStatus,
        record: TransitionRecord,
        events: Iterable[OutboxEvent],
        *,
        reserved: bool = True,
    ) -> Payment | None:
        """Counts a successful refund as refunded, once. `reserved`: its reservation (which must
        still exist) moves to refunded. Otherwise it is a refund we held FAILED or CANCELLED
        (its reservation already given back) that the gateway says succeeded: the money left,
        so it counts against refundable now, once (`settled_refunds`). Refundable may go below
        zero: the alert says so, and no further refund can be reserved."""
        if reserved:
            where: dict[str, Any] = {"refund_reservations": refund_id}
            inc = {"refund_reserved_amount": -amount, "refunded_amount": amount}
        else:
            where = {
                "refund_reservations": {"$ne": refund_id},
                "settled_refunds": {"$ne": refund_id},
            }
            inc = {"refundable_amount": -amount, "refunded_amount": amount}
        return await self._change(
            payment,
            where={"status": payment.status.value, **where},
            set_fields={"status": target.value, "last_refund_status": "SUCCESS"},
            inc=inc,
            pull={"refund_reservations": refund_id} if reserved else None,
            push={"settled_refunds": refund_id},
            history=[record],
            events=events,
        )

    async def release_refund(
        self,
        payment: Payment,
        refund_id: str,
        amount: int,
        outcome: str,
        events: Iterable[OutboxEvent],
    ) -> Payment | None:
        """Gives a failed refund's reservation back; applies once."""
        return await self._change(
            payment,
            where={"refund_reservations": refund_id},
            set_fields={"last_refund_status": outcome},
            inc={"refund_reserved_amount": -amount, "refundable_amount": amount},
            pull={"refund_reservations": refund_id},
            events=events,
        )

    async def apply_dispute(
        self,
        payment: Payment,
        *,
        where: Mapping[str, Any],
        inc: Mapping[str, int],
        push: Mapping[str, Any],
        pull: Mapping[str, Any] | None,
        events: Iterable[OutboxEvent],
    ) -> Payment | None:
        """A dispute's hold, release or chargeback on the amounts (the dispute service decides
        which); `where` keeps it to once per dispute and stage."""
        return await self._change(
            payment, where=where, inc=inc, push=push, pull=pull, events=events
        )

    async def reverse_refund(
        self,
        payment: Payment,
        refund_id: str,
        amount: int,
        target: PaymentStatus,
        record: TransitionRecord,
        events: Iterable[OutboxEvent],
    ) -> Payment | None:
        """A refund the bank sent back: refunded down, refundable up, once (`reversed_refunds`).
        The status follows the money (REFUNDED can become PARTIALLY_REFUNDED or SUCCESS again:
        the one move outside the state table, because money came back)."""
        return await self._change(
            payment,
            where={"status": payment.status.value, "reversed_refunds": {"$ne": refund_id}},
            set_fields={"status": target.value},
            inc={"refunded_amount": -amount, "refundable_amount": amount},
            push={"reversed_refunds": refund_id},
            history=[record],
            events=events,
        )

    async def mark_reconciled(self, payment: Payment) -> bool:
        """Sets `is_reconciled` if the captured money is still what the check compared."""
        result = await self.collection.update_one(
            {
                "_id": payment.payment_id,
                "captured_amount": payment.captured_amount,
                "currency": payment.currency,
                "status": {"$in": [status.value for status in CAPTURED]},
            },
            {"$set": {"is_reconciled": True}},
        )
        return result.modified_count == 1

    async def save_transaction(self, transaction: Transaction) -> None:
        """Stores or refreshes one gateway attempt (keyed by its cf_payment_id)."""
        document = transaction.model_dump(exclude={"id", "revision_id"})
        created_at = document.pop("created_at")
        await Transaction.get_pymongo_collection().update_one(
            {"_id": transaction.cf_payment_id},
            {"$set": document, "$setOnInsert": {"created_at": created_at}},
            upsert=True,
        )

    async def transaction(self, cf_payment_id: str) -> Transaction | None:
        return await find_one(Transaction, {"_id": cf_payment_id})

    async def transactions_of(self, payment_id: str, limit: int = 200) -> list[Transaction]:
        """The gateway attempts stored for a payment, oldest first."""
        cursor = (
            Transaction.get_pymongo_collection()
            .find({"payment_id": payment_id})
            .sort("created_at", 1)
            .limit(limit)
        )
        return [Transaction.model_validate(raw) async for raw in cursor]
