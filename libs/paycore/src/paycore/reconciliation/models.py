from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from paycore.kit.events import OUTBOX_DUE_INDEX, OutboxEvent
from paycore.kit.mongo import KeyedDocument


class MismatchKind(StrEnum):
    """What a reconciliation break is. Each item's `detail` names the exact differing fields."""

    MISSING_HERE = "MISSING_HERE"  # the gateway has a successful payment we don't know of
    MISSING_AT_GATEWAY = "MISSING_AT_GATEWAY"  # we hold money the gateway never captured
    STATUS = "STATUS"  # the gateway says paid; we don't, and its answer did not heal it
    AMOUNT = "AMOUNT"  # captured amounts or currencies differ
    DUPLICATE_CAPTURE = "DUPLICATE_CAPTURE"  # two successful attempts for one order
    REFUND_INCONSISTENT = "REFUND_INCONSISTENT"  # a refund differs (either side)
    SETTLEMENT_MISSING = "SETTLEMENT_MISSING"  # Cashfree settled it; we hold no settlement
    SETTLEMENT_DELAYED = "SETTLEMENT_DELAYED"  # captured, not settled within the method's SLA
    SETTLEMENT_AMOUNT = "SETTLEMENT_AMOUNT"  # captured - charges - tax != settled
    WEBHOOK_MISSING = "WEBHOOK_MISSING"  # the gateway captured; its webhook never reached us
    WEBHOOK_UNAPPLIED = "WEBHOOK_UNAPPLIED"  # received, never applied (failed, stuck)
    # Found by runs before issue 13; read only.
    NOT_CAPTURED_HERE = "NOT_CAPTURED_HERE"


class ItemStatus(StrEnum):
    OPEN = "OPEN"  # a break nobody fixed yet (alerted once)
    HEALED = "HEALED"  # a safe class the run applied from the gateway's record
    CLOSED = "CLOSED"  # a later run found it fixed
    RESOLVED = "RESOLVED"  # an operator closed it, with a note


class ReconciliationRun(KeyedDocument):
    key_field = "run_id"

    # rec_<schedule>_<window start>: a window's run has one id, so an interrupted run is
    # resumed (re-run under the same id) and gives the same items.
    run_id: str
    window_start: datetime
    window_end: datetime
    schedule: str = "manual"  # hourly | daily | manual
    status: str = "RUNNING"  # RUNNING | DONE | FAILED
    checked: int = 0  # orders compared
    asked_gateway: int = 0  # of them, asked about one by one (the reports left a doubt)
    report_pages: int = 0  # pages of Cashfree's reports read
    matched: int = 0
    mismatched: int = 0
    healed: int = 0
    closed: int = 0
    error: str | None = None
    version: int = 0
    outbox: list[OutboxEvent] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None

    class Settings:
        name = "reconciliation_runs"
        indexes = [
            IndexModel([("run_id", ASCENDING)], name="run_id_unique", unique=True),
            OUTBOX_DUE_INDEX,
        ]


class ReconciliationItem(Document):
    """One break, kept across runs: its id names the break (kind and subject), so every run
    that finds it again updates the same item (and its alert is raised once)."""

    item_id: str  # <kind>:<subject>, e.g. SETTLEMENT_AMOUNT:ord_X
    run_id: str  # the run that found it first
    last_run_id: str | None = None  # the latest run that found it (or closed it)
    kind: MismatchKind
    status: ItemStatus = ItemStatus.OPEN
    order_id: str | None
    payment_id: str | None = None
    refund_id: str | None = None
    # The differing fields: {field: {"ours": ..., "gateway": ...}} and context facts.
    detail: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None  # the operator's, when resolved
    resolved_by: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    last_seen_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    closed_at: datetime | None = None
    reopened: int = 0  # times a HEALED or CLOSED item was found broken again (each alerted)

    class Settings:
        name = "reconciliation_items"
        indexes = [
            IndexModel([("item_id", ASCENDING)], name="item_id_unique", unique=True),
            IndexModel([("run_id", ASCENDING)], name="run_id"),
            IndexModel([("status", ASCENDING)], name="status"),
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
