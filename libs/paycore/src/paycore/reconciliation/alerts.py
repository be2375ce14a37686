"""Raising an operator alert: stored once per key, its email event sent through the outbox."""

from __future__ import annotations

from typing import Any

from loguru import logger

from paycore.kit.events import OutboxEvent
from paycore.kit.mongo import is_duplicate_key
from paycore.kit.state import notify_outbox
from paycore.reconciliation.models import AdminAlert


async def raise_alert(alert_id: str, kind: str, severity: str = "high", **detail: Any) -> bool:
    """Stores the alert unless one with this id exists; True if it is new."""
    alert = AdminAlert(alert_id=alert_id, kind=kind, severity=severity, detail=detail)
    alert.outbox = [
        OutboxEvent.of(
            "email.admin.alert",
            {"alert": kind, "severity": severity, "alert_id": alert_id, **detail},
        )
    ]
    try:
        await alert.insert()
    except Exception as exc:
        if is_duplicate_key(exc):
            return False
        raise
    notify_outbox(AdminAlert.get_pymongo_collection().name, alert_id, alert.outbox)
    logger.warning("admin alert raised", alert=kind, alertId=alert_id)
    return True
