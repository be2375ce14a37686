"""The audit trail's records, chained per resource (written by `paycore.kit.audit`; this
model reads them and creates their indexes). Each chain's head is on its resource's document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from paycore.kit import audit


class Actor(BaseModel):
    kind: str  # user | service | operator
    id: str
    ip: str | None = None
    user_agent: str | None = None


class AuditRecord(Document):
    """`_id` is `<resource_type>:<resource_id>:<seq, 10 digits>`."""

    id: str | None = Field(default=None)  # type: ignore[assignment]
    entry_id: str
    seq: int  # position in the resource's chain, from 1
    prev_hash: str
    hash: str
    at: datetime
    actor: Actor
    action: str  # payment.create, payment.success, refund.initiate, invoice.update, ...
    resource_type: str
    resource_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    evidence: dict[str, Any] | None = None  # source (api, webhook, worker, ...), reference
    request_id: str | None = None
    trace_id: str | None = None

    class Settings:
        name = audit.RECORDS
        indexes = [
            IndexModel([("resource_type", ASCENDING), ("resource_id", ASCENDING)], name="resource"),
        ]
