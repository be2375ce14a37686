"""The `webhook.cashfree.received` handler: apply the stored log; on failure, note it on the
log (retry event, or FAILED with dead-letter events and an alert) and let the consumer route
the message to its delay queue or its dead-letter queue."""

from __future__ import annotations

from loguru import logger
from paycore.events.payloads import WebhookReceived
from paycore.kit.broker import Delivery, is_retryable
from paycore.webhooks.errors import MalformedMessage
from paycore.webhooks.metrics import WEBHOOK_RETRIES, WEBHOOKS_DEAD_LETTERED
from paycore.webhooks.service import WebhookService


class WebhookHandler:
    def __init__(self, service: WebhookService, retry_count: int) -> None:
        self.service = service
        self.retry_count = retry_count
        # Exposed at 0 from the start, so rate() and increase() see the first one.
        for attempt in range(1, retry_count + 1):
            WEBHOOK_RETRIES.labels(str(attempt))
        for reason in ("exhausted", "poison"):
            WEBHOOKS_DEAD_LETTERED.labels(reason)

    async def __call__(self, delivery: Delivery) -> None:
        try:
            log_id = delivery.envelope.payload(WebhookReceived).log_id
        except ValueError as exc:  # pydantic's ValidationError
            raise MalformedMessage(event_id=delivery.envelope.event_id) from exc
        if not log_id:
            raise MalformedMessage(event_id=delivery.envelope.event_id)
        with logger.contextualize(logId=log_id, attempt=delivery.attempt):
            try:
                await self.service.process(log_id)
            except Exception as exc:
                await self._failed(log_id, exc, delivery.attempt)
                raise

    async def _failed(self, log_id: str, exc: Exception, attempt: int) -> None:
        # The same rule as the consumer's: retryable and attempts left, else dead letter.
        will_retry = is_retryable(exc) and attempt < self.retry_count
        if will_retry:
            WEBHOOK_RETRIES.labels(str(attempt + 1)).inc()
        else:
            WEBHOOKS_DEAD_LETTERED.labels("exhausted" if is_retryable(exc) else "poison").inc()
        try:
            await self.service.record_failure(log_id, exc, attempt=attempt, will_retry=will_retry)
        except Exception as note_error:
            # The message is still retried or dead-lettered; only the note on the log is lost.
            logger.warning("could not record the webhook failure", error=repr(note_error)[:300])
