from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import BaseModel
from pymongo import ASCENDING, IndexModel


class Actor(BaseModel):
    kind: str  # user | service | operator | gateway
    id: str
    ip: str | None = None
    user_agent: str | None = None


class AuditRecord(Document):
    seq: int
    prev_hash: str
    hash: str
    at: datetime
    actor: Actor
    action: str  # payment.create, refund.initiate, payment.transition, ...
    resource_type: str
    resource_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    request_id: str | None = None
    trace_id: str | None = None

    class Settings:
        name = "audit_logs"
        indexes = [
            IndexModel([("seq", ASCENDING)], name="seq_unique", unique=True),
            IndexModel([("resource_type", ASCENDING), ("resource_id", ASCENDING)], name="resource"),
        ]


class AuditHead(Document):
    """The chain's last position and hash, read by `_id` (cheap on every server)."""

    seq: int
    hash: str

    class Settings:
        name = "audit_head"
