from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from paycore.kit.events import OutboxEvent
from paycore.kit.mongo import KeyedDocument


class MismatchKind(StrEnum):
    MISSING_HERE = "MISSING_HERE"  # the gateway has a successful payment we don't know of
    NOT_CAPTURED_HERE = "NOT_CAPTURED_HERE"  # the gateway says paid; we don't say SUCCESS
    AMOUNT = "AMOUNT"  # amounts or currencies differ


class ReconciliationRun(KeyedDocument):
    key_field = "run_id"

    run_id: str  # rec_…
    window_start: datetime
    window_end: datetime
    status: str = "RUNNING"  # RUNNING | DONE | FAILED
    checked: int = 0
    matched: int = 0
    mismatched: int = 0
    error: str | None = None
    version: int = 0
    outbox: list[OutboxEvent] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None

    class Settings:
        name = "reconciliation_runs"
        indexes = [IndexModel([("run_id", ASCENDING)], name="run_id_unique", unique=True)]


class ReconciliationItem(Document):
    item_id: str  # run id + gateway event id: a rerun of the same run never doubles an item
    run_id: str
    kind: MismatchKind
    order_id: str | None
    payment_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    class Settings:
        name = "reconciliation_items"
        indexes = [
            IndexModel([("item_id", ASCENDING)], name="item_id_unique", unique=True),
            IndexModel([("run_id", ASCENDING)], name="run_id"),
        ]


class DailyRollup(Document):
    """Events counted per day and type, from the event archive."""

    day: str  # YYYY-MM-DD (UTC)
    event_type: str
    events: int = 0
    amount_total: int = 0  # sum of `data.amount` where present (minor units)

    class Settings:
        name = "analytics_rollups"
        indexes = [
            IndexModel(
                [("day", ASCENDING), ("event_type", ASCENDING)],
                name="day_type_unique",
                unique=True,
            )
        ]
