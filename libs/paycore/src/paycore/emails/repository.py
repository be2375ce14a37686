"""`email_logs`: the claim that makes a second delivery of an event find the first one's email.

Claim → send → mark sent. The claim is an insert under the unique key; a record left SENDING by
a crashed worker is taken over once its lease ran out, a FAILED one at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from paycore.emails.models import EmailLog, EmailStatus
from paycore.kit.mongo import find_one, is_duplicate_key


class ClaimResult(StrEnum):
    CLAIMED = "claimed"  # ours to send
    DONE = "done"  # sent or skipped before: a duplicate delivery
    BUSY = "busy"  # another delivery holds a live claim


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    log: EmailLog


class EmailLogRepository:
    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        return EmailLog.get_pymongo_collection()

    async def get(self, key: str) -> EmailLog | None:
        return await find_one(EmailLog, {"_id": key})

    async def claim(self, log: EmailLog, lease: timedelta) -> Claim:
        now = datetime.now(UTC)
        log.status, log.attempts, log.lease_until = EmailStatus.SENDING, 1, now + lease
        try:
            await self.collection.insert_one(
                {"_id": log.key, **log.model_dump(exclude={"id", "revision_id"})}
            )
            return Claim(ClaimResult.CLAIMED, log)
        except Exception as exc:
            if not is_duplicate_key(exc):
                raise
        existing = await self.get(log.key)
        if existing is None:  # removed in between: only an operator does that
            return Claim(ClaimResult.BUSY, log)
        if existing.status in (EmailStatus.SENT, EmailStatus.SKIPPED):
            return Claim(ClaimResult.DONE, existing)
        live = existing.lease_until is not None and existing.lease_until > now
        if existing.status == EmailStatus.SENDING and live:
            return Claim(ClaimResult.BUSY, existing)
        taken = await self._update(
            existing,
            {"status": EmailStatus.SENDING.value, "lease_until": now + lease, "last_error": None},
            inc={"attempts": 1},
        )
        if taken is None:  # another delivery took it first
            return Claim(ClaimResult.BUSY, existing)
        return Claim(ClaimResult.CLAIMED, taken)

    async def renew(self, log: EmailLog, lease_until: datetime) -> EmailLog | None:
        """Extends this delivery's claim; None if another delivery changed the record since."""
        return await self._update(log, {"lease_until": lease_until})

    async def mark_sent(self, log: EmailLog, changes: Mapping[str, Any]) -> EmailLog | None:
        return await self._finish(log, EmailStatus.SENT, {**changes, "sent_at": datetime.now(UTC)})

    async def mark_failed(self, log: EmailLog, error: str, changes: Mapping[str, Any]) -> None:
        await self._finish(log, EmailStatus.FAILED, {**changes, "last_error": error})

    async def mark_skipped(self, log: EmailLog, reason: str, changes: Mapping[str, Any]) -> None:
        await self._finish(log, EmailStatus.SKIPPED, {**changes, "skip_reason": reason})

    async def _finish(
        self, log: EmailLog, status: EmailStatus, changes: Mapping[str, Any]
    ) -> EmailLog | None:
        """Ends this delivery's claim: the status it reached, and the lease given back."""
        return await self._update(log, {**changes, "status": status.value, "lease_until": None})

    async def _update(
        self, log: EmailLog, changes: Mapping[str, Any], inc: Mapping[str, int] | None = None
    ) -> EmailLog | None:
        """Applies only if nobody changed the record since we read it (its version)."""
        raw = await self.collection.find_one_and_update(
            {"_id": log.key, "version": log.version},
            {
                "$set": {**changes, "updated_at": datetime.now(UTC)},
                "$inc": {"version": 1, **dict(inc or {})},
            },
            return_document=ReturnDocument.AFTER,
        )
        return EmailLog.model_validate(raw) if raw is not None else None
