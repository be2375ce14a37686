"""Operator alerts: one per incident, whoever notices it and however often.

`raise_alert` is the one way to alert an operator. The alert is stored under a stable id that
names the incident (e.g. `refund_contradiction:rfd_X`), so a repeat (a redelivered webhook, the
next poll, a repeated verify) changes nothing; its `email.admin.alert` event travels in the
alert's own outbox, so the email goes out once.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from paycore.alerts.models import AdminAlert
from paycore.kit.events import OutboxEvent
from paycore.kit.mongo import is_duplicate_key
from paycore.kit.state import insert_with_events

__all__ = ["AdminAlert", "raise_alert"]


async def raise_alert(alert_id: str, kind: str, severity: str = "high", **detail: Any) -> bool:
    """Stores the alert unless one with this id exists; True if it is new.

    `alert_id`: stable for the incident (never a fresh random id); `detail`: JSON-able facts
    for the email (ids, amounts in minor units, deadlines). Never PII.
    """
    alert = AdminAlert(alert_id=alert_id, kind=kind, severity=severity, detail=detail)
    alert.outbox = [
        OutboxEvent.of(
            "email.admin.alert",
            {"alert": kind, "severity": severity, "alert_id": alert_id, **detail},
        )
    ]
    try:
        await insert_with_events(alert)
    except Exception as exc:
        if is_duplicate_key(exc):
            return False
        raise
    logger.warning("admin alert raised", alert=kind, alertId=alert_id, severity=severity)
    return True
