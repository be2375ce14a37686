"""The audit trail: append-only records of every money-affecting action, hash-chained.

Each record holds the previous record's hash and its own position (`seq`, unique), so a
removed, changed or reordered record breaks the chain (`verify_chain`). Appends from several
processes are serialised by the unique `seq`: the loser of a race reads the new head and tries
again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING

from paycore.audit.models import Actor, AuditHead, AuditRecord
from paycore.kit.context import request_id_var, trace_id_var
from paycore.kit.mongo import is_duplicate_key

GENESIS = "0" * 64


def record_hash(prev_hash: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _now_ms() -> datetime:
    """Now, at the millisecond precision the database keeps (the hash must survive storage)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _plain(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """Before/after states as JSON values, so they hash the same after a round trip."""
    if state is None:
        return None
    plain: dict[str, Any] = json.loads(json.dumps(state, default=str))
    return plain


def _body(record: AuditRecord) -> dict[str, Any]:
    body: dict[str, Any] = record.model_dump(
        mode="json", exclude={"id", "revision_id", "hash", "prev_hash"}
    )
    return body


class AuditTrail:
    """Share one instance per process: its appends go one at a time, so they only race with
    other processes' appends (each lost race costs a few database round trips)."""

    HEAD_ID = "head"

    def __init__(self) -> None:
        self._turn = asyncio.Lock()

    async def append(
        self,
        actor: Actor,
        action: str,
        resource_type: str,
        resource_id: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditRecord:
        async with self._turn:
            return await self._append(actor, action, resource_type, resource_id, before, after)

    async def _append(
        self,
        actor: Actor,
        action: str,
        resource_type: str,
        resource_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> AuditRecord:
        heads = AuditHead.get_pymongo_collection()
        for _ in range(50):
            head = await heads.find_one({"_id": self.HEAD_ID}) or {"seq": 0, "hash": GENESIS}
            record = AuditRecord(
                seq=head["seq"] + 1,
                prev_hash=head["hash"],
                hash="",
                at=_now_ms(),
                actor=actor,
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                before=_plain(before),
                after=_plain(after),
                request_id=request_id_var.get(),
                trace_id=trace_id_var.get(),
            )
            record.hash = record_hash(record.prev_hash, _body(record))
            try:
                await record.insert()
            except Exception as exc:
                if not is_duplicate_key(exc):
                    raise
                await self._advance_head_to_latest(head["seq"] + 1)
                continue
            await self._create_or_advance(record)
            return record
        raise RuntimeError("audit chain is too contended")

    async def _create_or_advance(self, record: AuditRecord) -> None:
        heads = AuditHead.get_pymongo_collection()
        try:  # the first record creates the head
            await heads.insert_one({"_id": self.HEAD_ID, "seq": record.seq, "hash": record.hash})
        except Exception as exc:
            if not is_duplicate_key(exc):
                raise
            await heads.update_one(
                {"_id": self.HEAD_ID, "seq": {"$lt": record.seq}},
                {"$set": {"seq": record.seq, "hash": record.hash}},
            )

    async def _advance_head_to_latest(self, taken_seq: int) -> None:
        """Another writer took `taken_seq` (and may have died before moving the head)."""
        raw = await AuditRecord.get_pymongo_collection().find_one({"seq": taken_seq})
        if raw is not None:
            await self._create_or_advance(AuditRecord.model_validate(raw))

    async def verify_chain(self) -> tuple[bool, int]:
        """Walks the chain in order; returns (intact, records checked)."""
        previous = GENESIS
        checked = 0
        cursor = AuditRecord.get_pymongo_collection().find({}).sort("seq", ASCENDING)
        async for raw in cursor:
            record = AuditRecord.model_validate(raw)
            checked += 1
            if record.seq != checked or record.prev_hash != previous:
                return False, checked
            if record_hash(previous, _body(record)) != record.hash:
                return False, checked
            previous = record.hash
        return True, checked
