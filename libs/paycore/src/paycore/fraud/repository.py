"""Fraud signal storage (the velocity counts live in Redis: `velocity.py`)."""

from __future__ import annotations

from paycore.fraud.models import FraudSignal
from paycore.kit.state import insert_with_events


class FraudSignalRepository:
    async def insert(self, signal: FraudSignal) -> None:
        """Stores the signal with its outbox (the analytics event) and hands that to the relay."""
        await insert_with_events(signal)
