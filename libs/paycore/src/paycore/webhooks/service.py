"""Applying a stored webhook through the payment and refund state machines, once.

`process(log_id)` is what the processor calls for every `webhook.cashfree.received` delivery,
and the operator's `reprocess` too. It can run any number of times for one log: a final log is
left alone, and every effect underneath is guarded (state transitions apply once, invoice sync
is version-guarded, history notes are written once per log). The events it adds (admin alerts,
analytics, failure notices) go into the log's own outbox in the same update that marks it done,
so they are published once per log as well.

Where each part lives: the log's lifecycle in `lifecycle.py`, one applier per event kind in
`appliers/` and the operator's dry run in `dry_run.py` (one dispatch table for both,
`appliers.HANDLERS`); the rules they apply in their domains (`payments.attempts`,
`refunds.answers`, `payments.settlement`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from paycore.gateway.interface import PaymentGateway
from paycore.kit.crypto import FieldCipher
from paycore.payments.service import PaymentService
from paycore.refunds.service import RefundService
from paycore.webhooks.appliers import apply_event, describe_event
from paycore.webhooks.context import ApplyContext
from paycore.webhooks.lifecycle import WebhookLogLifecycle
from paycore.webhooks.models import FINAL_STATUSES, WebhookLog
from paycore.webhooks.parsing import parse_webhook
from paycore.webhooks.repository import WebhookLogRepository

# Called with the log id after a webhook's effects are applied and before its log is marked
# done (a test hook: killing the process there must not duplicate any effect).
Checkpoint = Callable[[str], Awaitable[None]]


class WebhookService:
    def __init__(
        self,
        payments: PaymentService | None = None,
        refunds: RefundService | None = None,
        repository: WebhookLogRepository | None = None,
        *,
        gateway: PaymentGateway | None = None,
        confirm_with_gateway: bool = False,
        cipher: FieldCipher | None = None,
        refund_extra_captures: bool = False,
    ) -> None:
        """`cipher` opens sealed bodies (every log the ingress stores)."""
        self.cipher = cipher
        self.context = ApplyContext(
            payments,
            refunds,
            gateway=gateway,
            confirm_with_gateway=confirm_with_gateway,
            refund_extra_captures=refund_extra_captures,
        )
        self.logs = WebhookLogLifecycle(repository, cipher)
        self.checkpoint: Checkpoint | None = None
        # The processor (its failed-attempt hook) and the operator's commands reach the
        # payments and refunds through here.
        self.payments = self.context.payments
        self.refunds = self.context.refunds

    async def get(self, log_id: str) -> WebhookLog:
        return await self.logs.get(log_id)

    async def dead_lettered(self, limit: int) -> list[WebhookLog]:
        """Logs that ran out of retries, oldest first (at most `limit`): the operator's list."""
        return await self.logs.repository.list_dead_lettered(limit)

    async def process(self, log_id: str) -> WebhookLog:
        """Applies the stored webhook once; a log that is already final is returned as it is."""
        log = await self.logs.get(log_id)
        if log.status in FINAL_STATUSES:
            return log
        started_at = datetime.now(UTC)
        event = parse_webhook(log.event_type, log.webhook_version, log.raw_body(self.cipher))
        outcome = await apply_event(self.context, log, event)
        if self.checkpoint is not None:
            await self.checkpoint(log.log_id)
        return await self.logs.finish(log, outcome, started_at)

    async def reprocess(self, log_id: str) -> WebhookLog:
        """The operator's reprocess: a final log is reopened first (noted on it), then
        processed like a delivery. Raises `WebhookLogNotFound`."""
        log = await self.logs.get(log_id)
        if log.status in FINAL_STATUSES:
            await self.logs.repository.reopen(log, "reprocessed by an operator")
        return await self.process(log_id)

    async def record_failure(
        self, log_id: str, error: BaseException, *, attempt: int, will_retry: bool
    ) -> None:
        """See `WebhookLogLifecycle.record_failure`."""
        await self.logs.record_failure(log_id, error, attempt=attempt, will_retry=will_retry)

    async def plan(self, log_id: str) -> list[str]:
        """What processing this log would change, in words, without changing anything."""
        log = await self.logs.get(log_id)
        lines = [f"webhook {log.log_id} {log.event_type} is {log.status.value}"]
        if log.status in FINAL_STATUSES:
            lines.append("final: a delivery changes nothing (reprocess reopens it first)")
        event = parse_webhook(log.event_type, log.webhook_version, log.raw_body(self.cipher))
        return lines + await describe_event(self.context, log.event_type, event)
