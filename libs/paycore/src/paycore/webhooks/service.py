"""Applying a stored webhook through the payment and refund state machines, once.

`process(log_id)` is what the processor calls for every `webhook.cashfree.received` delivery,
and the operator's `reprocess` too. It can run any number of times for one log: a final log is
left alone, and every effect underneath is guarded (state transitions apply once, invoice sync
is version-guarded, history notes are written once per log). The events it adds (admin alerts,
analytics, failure notices) go into the log's own outbox in the same update that marks it done,
so they are published once per log as well.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from paycore.alerts import raise_alert
from paycore.disputes.service import DisputeService
from paycore.gateway.errors import GatewayNotFound
from paycore.gateway.interface import PaymentGateway
from paycore.gateway.schemas import (
    GatewayAttemptStatus,
    GatewayPayment,
    GatewayRefund,
    GatewaySettlementQuery,
)
from paycore.kit.crypto import FieldCipher
from paycore.kit.errors import ChangedConcurrently
from paycore.kit.events import OutboxEvent
from paycore.kit.state import (
    CONFLICT,
    Conflict,
    Evidence,
    TransitionRecord,
    read_again_after,
    retry_on_conflict,
    written,
)
from paycore.payments.errors import AmountMismatch, PaymentNotFound
from paycore.payments.models import Payment, SettlementStatus
from paycore.payments.service import ATTEMPT_TARGETS, FAILED_ATTEMPTS, PaymentService
from paycore.payments.settlement import record_settlement
from paycore.payments.states import PAYMENT_STATES
from paycore.refunds.errors import RefundAmountMismatch
from paycore.refunds.models import RefundStatus
from paycore.refunds.service import GATEWAY_TARGETS, RefundService
from paycore.refunds.states import REFUND_STATES, RELEASES_RESERVATION
from paycore.webhooks.errors import GatewayDisagrees, WebhookLogNotFound
from paycore.webhooks.metrics import observe_processed
from paycore.webhooks.models import FINAL_STATUSES, WebhookLog, WebhookStatus
from paycore.webhooks.parsing import (
    AutoRefundEvent,
    DisputeEvent,
    PaymentEvent,
    RefundEvent,
    SettlementEvent,
    WebhookEvent,
    order_id_of,
    parse_webhook,
)
from paycore.webhooks.repository import WebhookLogRepository

W = WebhookStatus

# Called with the log id after a webhook's effects are applied and before its log is marked
# done (a test hook: killing the process there must not duplicate any effect).
Checkpoint = Callable[[str], Awaitable[None]]

# Orders asked per page of a settlement's listing (Cashfree allows 10 to 1000).
SETTLEMENT_PAGE_SIZE = 100


@dataclass
class Outcome:
    """What applying a webhook did, written onto its log."""

    status: WebhookStatus
    # applied | duplicate | refused | no_change | orphan | amount_mismatch | contradiction |
    # attempt_failed | second_capture | …
    outcome: str
    reason: str | None = None
    order_id: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    discrepancy: dict[str, Any] | None = None
    events: list[OutboxEvent] = field(default_factory=list)


async def admin_alert(
    alert: str, severity: str, log: WebhookLog, *, incident: str | None = None, **data: Any
) -> None:
    """Raises the alert once per incident: `incident` names it (an order, a refund, an
    attempt); without one, the webhook itself (its event id, else its log) is the incident."""
    await raise_alert(
        f"{alert}:{incident or log.event_id or log.log_id}",
        alert,
        severity,
        log_id=log.log_id,
        event_type=log.event_type,
        **data,
    )


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
        self.payments = payments or PaymentService()
        self.refunds = refunds or RefundService(self.payments)
        self.disputes = DisputeService(self.payments)
        self.repository = repository or WebhookLogRepository()
        self.gateway = gateway
        self.confirm_with_gateway = confirm_with_gateway and gateway is not None
        self.checkpoint: Checkpoint | None = None
        # Refund a second capture on one order at once (else the operator's one command).
        self.refund_extra_captures = refund_extra_captures

    async def get(self, log_id: str) -> WebhookLog:
        log = await self.repository.get(log_id)
        if log is None:
            raise WebhookLogNotFound(log_id=log_id)
        return log

    async def dead_lettered(self, limit: int) -> list[WebhookLog]:
        """Logs that ran out of retries, oldest first (at most `limit`): the operator's list."""
        return await self.repository.list_dead_lettered(limit)

    async def process(self, log_id: str) -> WebhookLog:
        """Applies the stored webhook once; a log that is already final is returned as it is."""
        log = await self.get(log_id)
        if log.status in FINAL_STATUSES:
            return log
        log = await self._start(log)
        event = parse_webhook(log.event_type, log.webhook_version, log.raw_body(self.cipher))
        outcome = await self._apply(log, event)
        if self.checkpoint is not None:
            await self.checkpoint(log.log_id)
        return await self._finish(log, outcome)

    async def _start(self, log: WebhookLog) -> WebhookLog:
        current = read_again_after(log, lambda: self.get(log.log_id))

        async def start() -> WebhookLog | Conflict:
            started = await self.repository.update(
                await current(),
                {"status": W.PROCESSING.value, "processing_started_at": datetime.now(UTC)},
                inc={"attempts": 1},
            )
            return written(started)

        return await retry_on_conflict(start, log_id=log.log_id)

    async def _finish(self, log: WebhookLog, outcome: Outcome) -> WebhookLog:
        processed_at = datetime.now(UTC)
        changes = {
            "status": outcome.status.value,
            "outcome": outcome.outcome,
            "reason": outcome.reason,
            "order_id": outcome.order_id,
            "payment_id": outcome.payment_id,
            "refund_id": outcome.refund_id,
            "discrepancy": outcome.discrepancy,
            "processed_at": processed_at,
            "last_error": None,
        }
        current = read_again_after(log, lambda: self.get(log.log_id))

        async def finish() -> WebhookLog | Conflict:
            log = await current()
            if log.status in FINAL_STATUSES:
                return log  # another delivery finished it meanwhile
            finished = await self.repository.update(log, changes, events=outcome.events)
            if finished is None:
                return CONFLICT
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

        return await retry_on_conflict(finish, log_id=log.log_id)

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
        data = {"log_id": log.log_id, "event_type": log.event_type, "attempt": attempt + 1}
        # The order it is about, so reconciliation finds a webhook that was never applied.
        order: dict[str, Any] = {"order_id": self._order_of(log)} if log.order_id is None else {}
        if will_retry:
            changes: dict[str, Any] = {"last_error": text, **order}
            events = [OutboxEvent.of("webhook.cashfree.retry", {**data, "error": text})]
        else:
            changes = {
                "status": W.FAILED.value,
                "reason": text,
                "last_error": text,
                "dead_lettered": True,
                "processed_at": datetime.now(UTC),
                **order,
            }
            events = [
                OutboxEvent.of("webhook.cashfree.failed", {**data, "error": text}),
                OutboxEvent.of("webhook.cashfree.deadletter", {**data, "error": text}),
                OutboxEvent.of(
                    "analytics.webhook.failure", {**data, "error_type": type(error).__name__}
                ),
            ]
            await admin_alert("webhook_dead_lettered", "high", log, error=text, attempt=attempt + 1)
        current = read_again_after(log, lambda: self.get(log_id))

        async def record() -> WebhookLog | Conflict:
            return written(await self.repository.update(await current(), changes, events=events))

        # A log changing this often is being processed: that delivery records its own outcome.
        with contextlib.suppress(ChangedConcurrently):
            await retry_on_conflict(record, log_id=log_id)

    # --- applying each kind of event --------------------------------------------------------

    async def _apply(self, log: WebhookLog, event: WebhookEvent) -> Outcome:
        if isinstance(event, PaymentEvent):
            return await self._apply_payment(log, event.attempt)
        if isinstance(event, RefundEvent):
            return await self._apply_refund(log, event)
        if isinstance(event, AutoRefundEvent):
            return await self._record_auto_refund(log, event)
        if isinstance(event, SettlementEvent):
            return await self._apply_settlement(log, event)
        if isinstance(event, DisputeEvent):
            return await self._apply_dispute(log, event)
        return Outcome(W.IGNORED, "ignored", reason=f"unhandled event type {event.event_type}")

    def _evidence(self, log: WebhookLog, **detail: Any) -> Evidence:
        return Evidence(
            source="webhook",
            reference=log.log_id,
            detail={"event_type": log.event_type, "event_id": log.event_id, **detail},
        )

    async def _orphan(self, log: WebhookLog, order_id: str | None, **detail: Any) -> Outcome:
        logger.warning("webhook for an unknown order", logId=log.log_id, orderId=order_id)
        await admin_alert("webhook_unknown_order", "high", log, order_id=order_id, **detail)
        return Outcome(W.ORPHANED, "orphan", reason="no payment for this order", order_id=order_id)

    async def _apply_payment(self, log: WebhookLog, attempt: GatewayPayment) -> Outcome:
        detail: dict[str, Any] = {"cf_payment_id": attempt.gateway_payment_id}
        # A webhook outside the timestamp window is believed only as far as the gateway
        # confirms it (whatever its status); otherwise successes are confirmed if configured.
        confirm = log.out_of_window or (
            self.confirm_with_gateway and attempt.status == GatewayAttemptStatus.SUCCEEDED
        )
        if confirm:
            attempt = await self._confirmed(log, attempt)
            detail |= {"confirmed": True, "confirmed_status": attempt.status.value}
        try:
            result = await self.payments.apply_attempt(attempt, self._evidence(log, **detail))
        except PaymentNotFound:
            return await self._orphan(
                log, attempt.order_id, cf_payment_id=attempt.gateway_payment_id
            )
        except AmountMismatch as exc:
            return await self._amount_mismatch(log, attempt.order_id, exc.details, detail)
        if result.reason == "second_capture" and self.refund_extra_captures:
            await self.refunds.refund_extra_capture(
                result.payment.payment_id, attempt.gateway_payment_id, by="webhook-processor"
            )
        if result.changed:
            # "contradiction": a success for a payment we held closed, applied and alerted.
            outcome = result.reason if result.reason == "contradiction" else "applied"
        else:
            outcome = result.reason or "no_change"
        return Outcome(
            W.SUCCESS,
            outcome,
            order_id=result.payment.order_id,
            payment_id=result.payment.payment_id,
        )

    async def _confirmed(self, log: WebhookLog, attempt: GatewayPayment) -> GatewayPayment:
        """Cashfree's own record of the attempt, which wins over the webhook's body."""
        if self.gateway is None:
            raise GatewayDisagrees("no gateway to confirm this webhook with", log_id=log.log_id)
        try:
            answer = await self.gateway.get_payment(attempt.order_id, attempt.gateway_payment_id)
        except GatewayNotFound as exc:
            raise GatewayDisagrees(
                "the gateway does not know this payment", log_id=log.log_id
            ) from exc
        if answer.status != attempt.status:
            logger.warning(
                "gateway does not confirm the webhook",
                logId=log.log_id,
                webhook=attempt.status.value,
                gateway=answer.status.value,
            )
        return answer

    async def _amount_mismatch(
        self,
        log: WebhookLog,
        order_id: str,
        details: dict[str, Any],
        evidence_detail: dict[str, Any],
    ) -> Outcome:
        """Never a success: the discrepancy goes on the log and the payment's history, and an
        admin is alerted."""
        discrepancy = {
            key: details.get(key)
            for key in (
                "expected_amount",
                "expected_currency",
                "reported_amount",
                "reported_currency",
            )
        }
        payment = await self.payments.find_by_order_id(order_id)
        if payment is not None:
            note = "amount mismatch: not applied"
            evidence = self._evidence(log, **evidence_detail, discrepancy=discrepancy)
            await self._note_once(payment, log, note, evidence)
        logger.error("webhook amount mismatch", logId=log.log_id, orderId=order_id, **discrepancy)
        await admin_alert(
            "webhook_amount_mismatch",
            "critical",
            log,
            incident=f"{order_id}:{evidence_detail.get('cf_payment_id')}",
            order_id=order_id,
            payment_id=payment.payment_id if payment else None,
            **discrepancy,
        )
        return Outcome(
            W.FAILED,
            "amount_mismatch",
            reason="the gateway reports another amount or currency than the payment's",
            order_id=order_id,
            payment_id=payment.payment_id if payment else None,
            discrepancy=discrepancy,
        )

    async def _note_once(
        self, payment: Payment, log: WebhookLog, note: str, evidence: Evidence
    ) -> None:
        """Keeps an event that changes no state in the payment's history, once per log."""
        current = read_again_after(payment, lambda: self.payments.get(payment.payment_id))

        async def note_once() -> Payment | Conflict | None:
            payment = await current()
            if any(r.evidence.reference == log.log_id for r in payment.history):
                return None
            record = TransitionRecord(
                from_status=payment.status.value,
                to_status=payment.status.value,
                evidence=evidence,
                note=note,
            )
            return written(await self.payments.repository.record_ignored(payment, record))

        await retry_on_conflict(note_once, payment_id=payment.payment_id)

    async def _apply_refund(self, log: WebhookLog, event: RefundEvent) -> Outcome:
        answer = event.refund
        if log.out_of_window:
            answer = await self._confirmed_refund(log, answer)
        ours = await self.refunds.find(answer.refund_id)
        evidence = self._evidence(log, cf_refund_id=answer.gateway_refund_id)
        try:
            refund = await self.refunds.apply_gateway_refund(answer, evidence)
        except PaymentNotFound:
            return await self._orphan(log, answer.order_id, refund_id=answer.refund_id)
        except RefundAmountMismatch as exc:  # alerted where it was found
            discrepancy = {
                key: exc.details.get(key)
                for key in (
                    "expected_amount",
                    "expected_currency",
                    "reported_amount",
                    "reported_currency",
                )
            }
            return Outcome(
                W.FAILED,
                "amount_mismatch",
                reason="the gateway reports another refund amount or currency than ours",
                order_id=exc.details.get("order_id"),
                payment_id=exc.details.get("payment_id"),
                refund_id=exc.details.get("refund_id"),
                discrepancy=discrepancy,
            )
        if ours is None:
            outcome = "adopted"
        elif ours.status in RELEASES_RESERVATION and refund.status == RefundStatus.SUCCESS:
            outcome = "contradiction"  # applied and alerted: money left that we thought stayed
        else:
            outcome = "applied"
        return Outcome(
            W.SUCCESS,
            outcome,
            order_id=refund.order_id,
            payment_id=refund.payment_id,
            refund_id=refund.refund_id,
        )

    async def _confirmed_refund(self, log: WebhookLog, answer: GatewayRefund) -> GatewayRefund:
        """Cashfree's own record of the refund, which wins over the webhook's body."""
        if self.gateway is None:
            raise GatewayDisagrees("no gateway to confirm this webhook with", log_id=log.log_id)
        try:
            return await self.gateway.get_refund(answer.order_id, answer.refund_id)
        except GatewayNotFound as exc:
            raise GatewayDisagrees(
                "the gateway does not know this refund", log_id=log.log_id
            ) from exc

    async def _record_auto_refund(self, log: WebhookLog, event: AutoRefundEvent) -> Outcome:
        """Cashfree refunded an attempt on its own: recorded as a refund (source AUTO). Of our
        captured attempt it counts against the refundable amount; of a duplicate capture it
        leaves our amounts alone. Either way the customer is emailed and operators alerted."""
        answer = event.refund
        payment = await self.payments.find_by_order_id(answer.order_id)
        if payment is None:
            return await self._orphan(log, answer.order_id, cf_refund_id=answer.gateway_refund_id)
        ours = answer.gateway_payment_id in (payment.cf_payment_id, None)
        evidence = self._evidence(log, cf_refund_id=answer.gateway_refund_id, auto=True)
        try:
            refund = await self.refunds.record_auto_refund(answer, event.reason, evidence)
        except RefundAmountMismatch as exc:
            return Outcome(
                W.FAILED,
                "amount_mismatch",
                reason="the gateway reports another auto-refund amount than recorded",
                order_id=payment.order_id,
                payment_id=payment.payment_id,
                refund_id=exc.details.get("refund_id"),
            )
        summary = {
            "order_id": payment.order_id,
            "payment_id": payment.payment_id,
            "refund_id": refund.refund_id,
            "cf_refund_id": answer.gateway_refund_id,
            "cf_payment_id": answer.gateway_payment_id,
            "amount": answer.amount_minor,
            "currency": answer.currency,
            "refund_status": answer.status.value,
            "reason": event.reason,
            "captured_attempt": ours,
        }
        await admin_alert(
            "gateway_auto_refund_of_captured_payment" if ours else "gateway_auto_refund",
            "high" if ours else "warning",
            log,
            incident=f"{answer.gateway_refund_id}:{answer.status.value}",
            **summary,
        )
        return Outcome(
            W.SUCCESS,
            "applied",
            order_id=payment.order_id,
            payment_id=payment.payment_id,
            refund_id=refund.refund_id,
            events=[OutboxEvent.of("analytics.refund.auto", summary)],
        )

    async def _apply_dispute(self, log: WebhookLog, event: DisputeEvent) -> Outcome:
        """Stored with its respond_by deadline; the disputed amount is held while open,
        released when won, paid out when lost (`DisputeService`); alerted per stage."""
        answer = event.dispute
        evidence = self._evidence(log, dispute_id=answer.dispute_id, status=answer.status)
        try:
            applied = await self.disputes.apply(answer, evidence)
        except PaymentNotFound:
            return await self._orphan(log, answer.order_id, dispute_id=answer.dispute_id)
        return Outcome(
            W.SUCCESS,
            "applied" if applied.changed else "duplicate",
            order_id=applied.payment.order_id,
            payment_id=applied.payment.payment_id,
        )

    async def _apply_settlement(self, log: WebhookLog, event: SettlementEvent) -> Outcome:
        payments = await self._settled_payments(event)
        settlement_id = event.settlement.gateway_settlement_id
        if not payments:
            if event.status == SettlementStatus.PENDING:
                # Initiated settlements are often not listed yet; the reconciler matches later.
                return Outcome(W.SUCCESS, "unmatched", reason="no payment known for settlement")
            await admin_alert(
                "settlement_unmatched",
                "high",
                log,
                incident=f"{settlement_id}:{event.status.value}",
                cf_settlement_id=settlement_id,
            )
            return Outcome(W.ORPHANED, "orphan", reason="no payment known for this settlement")
        changed = 0
        for payment in payments:
            changed += await self._settle(payment, event)
            if event.status in (SettlementStatus.FAILED, SettlementStatus.REVERSED):
                await admin_alert(
                    f"settlement_{event.status.value.lower()}",
                    "high",
                    log,
                    incident=f"{settlement_id}:{payment.payment_id}",
                    payment_id=payment.payment_id,
                    order_id=payment.order_id,
                    cf_settlement_id=settlement_id,
                )
        return Outcome(
            W.SUCCESS,
            "applied" if changed else "duplicate",
            order_id=payments[0].order_id if len(payments) == 1 else None,
            payment_id=payments[0].payment_id if len(payments) == 1 else None,
        )

    async def _settled_payments(self, event: SettlementEvent) -> list[Payment]:
        """The payments a settlement covers: named in it, or (Cashfree's settlement webhook
        names no order) listed by the gateway, page by page, with those an earlier stage
        matched."""
        wire = event.settlement
        if wire.order_id:
            payment = await self.payments.find_by_order_id(wire.order_id)
            return [payment] if payment is not None else []
        if wire.gateway_settlement_id is None:
            return []
        known = await self.payments.repository.list_by_settlement_id(wire.gateway_settlement_id)
        if self.gateway is None:
            return known
        # A settlement batches many orders: every page of them, not only the first (and not
        # only those an earlier stage already matched).
        order_ids: set[str] = {payment.order_id for payment in known}
        cursor: str | None = None
        while True:
            page = await self.gateway.list_settlements(
                GatewaySettlementQuery(
                    settlement_ids=[wire.gateway_settlement_id],
                    limit=SETTLEMENT_PAGE_SIZE,
                    cursor=cursor,
                )
            )
            order_ids |= {s.order_id for s in page.settlements if s.order_id}
            cursor = page.cursor
            if not cursor or not page.settlements:
                break
        found = [await self.payments.find_by_order_id(o) for o in sorted(order_ids)]
        return [payment for payment in found if payment is not None]

    async def _settle(self, payment: Payment, event: SettlementEvent) -> bool:
        return await record_settlement(self.payments, payment, event.status, event.settlement)

    # --- the operator's dry run --------------------------------------------------------------

    async def plan(self, log_id: str) -> list[str]:
        """What processing this log would change, in words, without changing anything."""
        log = await self.get(log_id)
        lines = [f"webhook {log.log_id} {log.event_type} is {log.status.value}"]
        if log.status in FINAL_STATUSES:
            lines.append("final: a delivery changes nothing (reprocess reopens it first)")
        event = parse_webhook(log.event_type, log.webhook_version, log.raw_body(self.cipher))
        lines += await self._describe(event)
        return lines

    async def _describe(self, event: WebhookEvent) -> list[str]:
        if isinstance(event, PaymentEvent):
            return await self._describe_payment(event.attempt)
        if isinstance(event, RefundEvent):
            refund = await self.refunds.find(event.refund.refund_id)
            target = GATEWAY_TARGETS.get(event.refund.status)
            if refund is None:
                return [f"refund {event.refund.refund_id} is unknown: would be adopted"]
            if target is None or not REFUND_STATES.allows(refund.status, target):
                return [f"refund {refund.refund_id} stays {refund.status.value}"]
            return [f"refund {refund.refund_id}: {refund.status.value} -> {target.value}"]
        if isinstance(event, AutoRefundEvent):
            return [f"auto-refund on order {event.refund.order_id}: recorded as a refund, alerted"]
        if isinstance(event, DisputeEvent):
            dispute = event.dispute
            stage = f"{dispute.status} ({dispute.outcome.value}), amount {dispute.amount_minor}"
            return [f"dispute {dispute.dispute_id} on order {dispute.order_id}: {stage}"]
        if isinstance(event, SettlementEvent):
            payments = await self._settled_payments(event)
            if not payments:
                return ["settlement matches no payment"]
            return [
                f"payment {p.payment_id} settlement: "
                f"{p.settlement.status.value if p.settlement else 'none'} -> {event.status.value}"
                for p in payments
            ]
        return [f"event type {event.event_type} is ignored"]

    async def _describe_payment(self, attempt: GatewayPayment) -> list[str]:
        payment = await self.payments.find_by_order_id(attempt.order_id)
        if payment is None:
            return [f"order {attempt.order_id} is unknown: would be kept as an orphan"]
        target = ATTEMPT_TARGETS.get(attempt.status)
        if attempt.status in FAILED_ATTEMPTS:
            return [f"payment {payment.payment_id} stays {payment.status.value} (attempt failed)"]
        if target is None:
            return [f"payment {payment.payment_id} stays {payment.status.value}"]
        asked = attempt.order_amount_minor
        asked = attempt.amount_minor if asked is None else asked
        if attempt.status == GatewayAttemptStatus.SUCCEEDED and (
            asked != payment.amount or attempt.currency != payment.currency
        ):
            reported = f"{asked} {attempt.currency}"
            expected = f"{payment.amount} {payment.currency}"
            mismatch = f"amount mismatch ({reported} reported, {expected} expected)"
            return [f"payment {payment.payment_id}: {mismatch}: not applied, admin alerted"]
        if payment.status == target:
            return [f"payment {payment.payment_id} is already {target.value}"]
        if not PAYMENT_STATES.allows(payment.status, target):
            refused = f"{target.value} refused, kept in history"
            return [f"payment {payment.payment_id} stays {payment.status.value} ({refused})"]
        return [f"payment {payment.payment_id}: {payment.status.value} -> {target.value}"]
