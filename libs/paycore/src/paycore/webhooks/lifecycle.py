"""A webhook log's processing lifecycle: RECEIVED → a final status with its outcome, or a
failure noted (retry, or FAILED and dead-lettered). Each step is one guarded update of the log
carrying its events, so a log is finished, and its events published, once.

Processing writes the log once, at the end (`finish`): no PROCESSING mark first. That mark
guarded nothing: it was no lease (two deliveries could both pass it), and what keeps a webhook
from applying twice is the guarded update of the payment or refund itself (a redelivery finds
the state already there: "duplicate"). A processor killed mid-message leaves the log RECEIVED,
the message unacknowledged, and the redelivery applies it again idempotently and finishes it.
What the mark gave, the count of attempts killed before they finished, is no longer kept:
`attempts` counts the attempts that finished or failed (`finish`, `record_failure`).

The final write is shared: the processor handles several messages at once, and the logs they
finish within `repository.SHARED_LINGER_SECONDS` go in one bulk write. Each message is still
acknowledged only after its log's write landed (the handler awaits it)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from paycore.events.payloads import WebhookFailure, WebhookFailureCounted
from paycore.kit.crypto import FieldCipher
from paycore.kit.errors import ChangedConcurrently
from paycore.kit.events import OutboxEvent
from paycore.kit.state import (
    CONFLICT,
    WriteConflict,
    read_again_after,
    retry_on_conflict,
    written,
)
from paycore.webhooks.errors import WebhookLogNotFound
from paycore.webhooks.metrics import observe_processed
from paycore.webhooks.models import FINAL_STATUSES, WebhookLog, WebhookStatus
from paycore.webhooks.outcome import Outcome, admin_alert
from paycore.webhooks.parsing import order_id_of, parse_webhook
from paycore.webhooks.repository import WebhookLogRepository

W = WebhookStatus


class WebhookLogLifecycle:
    def __init__(
        self, repository: WebhookLogRepository | None = None, cipher: FieldCipher | None = None
    ) -> None:
        """`cipher` opens sealed bodies (to name the order of a webhook that failed)."""
        self.repository = repository or WebhookLogRepository()
        self.cipher = cipher

    async def get(self, log_id: str) -> WebhookLog:
        log = await self.repository.get(log_id)
        if log is None:
            raise WebhookLogNotFound(log_id=log_id)
        return log

    async def finish(self, log: WebhookLog, outcome: Outcome, started_at: datetime) -> WebhookLog:
        """Writes the outcome and its events onto the log and counts the attempt, in one write,
        once (a log another delivery finished meanwhile is returned as it is). `started_at`:
        when this attempt began (kept as `processing_started_at`).

        The write is shared with the other logs finished meanwhile (`update(shared=True)`: one
        bulk write for the messages the processor handles at once); only if the log changed
        since `log` was read is it decided again on a fresh read and written alone."""
        processed_at = datetime.now(UTC)
        changes = {
            "status": outcome.status.value,
            "outcome": outcome.outcome,
            "reason": outcome.reason,
            "order_id": outcome.order_id,
            "payment_id": outcome.payment_id,
            "refund_id": outcome.refund_id,
            "discrepancy": outcome.discrepancy,
            "processing_started_at": started_at,
            "processed_at": processed_at,
            "last_error": None,
        }
        inc = {"attempts": 1}
        if log.status in FINAL_STATUSES:
            return log
        finished = await self.repository.update(
            log, changes, events=outcome.events, inc=inc, shared=True
        )
        if finished is not None:
            return self._finished(log, outcome, processed_at, finished)

        async def finish_alone() -> WebhookLog | WriteConflict:
            fresh = await self.get(log.log_id)
            if fresh.status in FINAL_STATUSES:
                return fresh  # another delivery finished it meanwhile
            finished = await self.repository.update(fresh, changes, events=outcome.events, inc=inc)
            if finished is None:
                return CONFLICT
            return self._finished(fresh, outcome, processed_at, finished)

        return await retry_on_conflict(finish_alone, log_id=log.log_id)

    @staticmethod
    def _finished(
        log: WebhookLog, outcome: Outcome, processed_at: datetime, finished: WebhookLog
    ) -> WebhookLog:
        observe_processed(log, outcome.status, outcome.outcome, processed_at)
        logger.info(
            "webhook processed",
            logId=log.log_id,
            eventType=log.event_type,
            status=outcome.status.value,
            outcome=outcome.outcome,
            orderId=outcome.order_id,
            paymentId=outcome.payment_id,
        )
        return finished

    def _order_of(self, log: WebhookLog) -> str | None:
        try:
            event = parse_webhook(log.event_type, log.webhook_version, log.raw_body(self.cipher))
        except Exception:
            return None  # a body that cannot be read names no order we can trust
        return order_id_of(event)

    async def record_failure(
        self, log_id: str, error: BaseException, *, attempt: int, will_retry: bool
    ) -> None:
        """Notes a failed processing attempt: a retry event, or (out of retries, or a poison
        message) FAILED with the failure, dead-letter and analytics events and an admin alert."""
        log = await self.repository.get(log_id)
        if log is None or log.status in FINAL_STATUSES - {W.FAILED}:
            return
        text = f"{type(error).__name__}: {error}"[:500]
        # The order it is about, so reconciliation finds a webhook that was never applied.
        order: dict[str, Any] = {"order_id": self._order_of(log)} if log.order_id is None else {}
        failure = WebhookFailure(
            log_id=log.log_id, event_type=log.event_type, attempt=attempt + 1, error=text
        )
        if will_retry:
            changes: dict[str, Any] = {"last_error": text, **order}
            events = [OutboxEvent.of("webhook.cashfree.retry", failure)]
        else:
            changes = {
                "status": W.FAILED.value,
                "reason": text,
                "last_error": text,
                "dead_lettered": True,
                "processed_at": datetime.now(UTC),
                **order,
            }
            counted = WebhookFailureCounted(
                log_id=log.log_id,
                event_type=log.event_type,
                attempt=attempt + 1,
                error_type=type(error).__name__,
            )
            events = [
                OutboxEvent.of("webhook.cashfree.failed", failure),
                OutboxEvent.of("webhook.cashfree.deadletter", failure),
                OutboxEvent.of("analytics.webhook.failure", counted),
            ]
            await admin_alert("webhook_dead_lettered", "high", log, error=text, attempt=attempt + 1)
        current = read_again_after(log, lambda: self.get(log_id))

        async def record() -> WebhookLog | WriteConflict:
            noted = await self.repository.update(
                await current(), changes, events=events, inc={"attempts": 1}
            )
            return written(noted)

        # A log changing this often is being processed: that delivery records its own outcome.
        with contextlib.suppress(ChangedConcurrently):
            await retry_on_conflict(record, log_id=log_id)
