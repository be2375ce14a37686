"""Helpers for tests against the real servers: isolated names per test run."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from paycore.kit.crypto import Sealed
from paycore.kit.events import EventEnvelope
from paycore.kit.ids import new_id
from paycore.kit.service import InfraSettings
from paycore.payments.models import Customer, Payment, PaymentStatus, order_id_for
from paycore.payments.states import CAPTURED

# A PII key for tests (base64 of 32 bytes); never a deployment's.
TEST_ENCRYPTION_KEY = "dGVzdC1vbmx5LXBpaS1rZXktMzItYnl0ZXMtbG9uZyE="


def unique_suffix() -> str:
    return uuid.uuid4().hex[:10]


def isolated_settings(**overrides: object) -> InfraSettings:
    """Settings pointing at the local servers (or MONGO_URI & co), with a database, queue
    prefix and Redis prefix of their own, and retry delays in milliseconds."""
    suffix = unique_suffix()
    values: dict[str, object] = {
        "app_env": "test",
        "mongo_db": f"test_{suffix}",
        "broker_prefix": f"test-{suffix}.",
        "redis_prefix": f"test:{suffix}:",
        "retry_delays_ms": [100, 200, 300],
        "outbox_poll_seconds": 0.05,
        "outbox_grace_seconds": 0.5,
        "queue_expires_ms": 300_000,
        "shutdown_grace_seconds": 5,
    }
    values.update(overrides)
    return InfraSettings(**values)  # type: ignore[arg-type]


@dataclass
class SeenEvents:
    """Events as an idempotent consumer sees them: one per event id.

    The outbox publishes at least once: when a write is slower than the relay's grace period
    (tests use 0.5 s; a busy machine gets there), the writer's fast publish and the sweep can both
    send the same event. Consumers absorb that by event id, and so do the tests' recorders;
    `copies` counts the extra deliveries."""

    events: list[EventEnvelope] = field(default_factory=list)
    copies: int = 0
    _ids: set[str] = field(default_factory=set)

    def add(self, body: bytes) -> None:
        event = EventEnvelope.model_validate_json(body)
        if event.event_id in self._ids:
            self.copies += 1
            return
        self._ids.add(event.event_id)
        self.events.append(event)


def mongo_uri() -> str:
    return os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")


async def create_payment(**overrides: Any) -> Payment:
    """Inserts a payment (SUCCESS of 10 000 paise unless told otherwise)."""
    status = overrides.pop("status", PaymentStatus.SUCCESS)
    amount = overrides.pop("amount", 10_000)
    captured = amount if status in CAPTURED else 0
    payment_id = overrides.pop("payment_id", new_id("pay"))
    values: dict[str, Any] = {
        "payment_id": payment_id,
        "order_id": order_id_for(payment_id),
        "user_id": "usr_test",
        "idempotency_key": unique_suffix(),
        "amount": amount,
        "currency": "INR",
        "status": status,
        "captured_amount": captured,
        "refundable_amount": captured,
        "customer": Customer(
            customer_id="cus_test",
            phone=Sealed(key_id="k1", nonce="", ciphertext=""),
            phone_hash="h",
        ),
    }
    values.update(overrides)
    payment = Payment(**values)
    await payment.insert()
    return payment
