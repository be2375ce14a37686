"""The email consumer: one event in, at most one email out (`EmailService`)."""

from __future__ import annotations

from loguru import logger
from paycore.emails.metrics import EMAILS_GIVEN_UP
from paycore.emails.models import KIND_BY_EVENT_TYPE
from paycore.emails.service import EmailService
from paycore.kit.broker import Delivery, is_retryable


class EmailSubscriber:
    def __init__(self, emails: EmailService, retries: int) -> None:
        self.emails = emails
        self.retries = retries  # delay queues before the dead-letter queue

    async def handle(self, delivery: Delivery) -> None:
        try:
            await self.emails.send_for_event(delivery.envelope)
        except Exception as exc:
            if not is_retryable(exc) or delivery.attempt >= self.retries:
                kind = KIND_BY_EVENT_TYPE.get(delivery.envelope.type)
                EMAILS_GIVEN_UP.labels(kind.value if kind else "unknown").inc()
                logger.error(
                    "email given up; its event goes to the dead-letter queue",
                    eventType=delivery.envelope.type,
                    attempt=delivery.attempt,
                    error=repr(exc)[:300],
                )
            raise
