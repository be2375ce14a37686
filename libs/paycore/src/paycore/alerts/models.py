"""The stored operator alert (see `paycore.alerts`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from pymongo import ASCENDING, IndexModel

from paycore.kit.events import OUTBOX_DUE_INDEX, OutboxEvent
from paycore.kit.mongo import KeyedDocument


class AdminAlert(KeyedDocument):
    """An alert for the operators; its `email.admin.alert` event travels in its outbox."""

    key_field = "alert_id"

    alert_id: str  # a stable key naming the incident, so the same alert is raised once
    kind: str
    severity: str = "high"  # warning | high | critical
    detail: dict[str, Any] = Field(default_factory=dict)
    version: int = 0
    outbox: list[OutboxEvent] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    class Settings:
        name = "admin_alerts"
        indexes = [
            IndexModel([("alert_id", ASCENDING)], name="alert_id_unique", unique=True),
            OUTBOX_DUE_INDEX,
        ]
