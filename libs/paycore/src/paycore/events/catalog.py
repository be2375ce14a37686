"""Every routing key paycore publishes, with its payload model: a key missing here cannot be
written (`OutboxEvent.of` refuses it), so this is the whole list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from paycore.events.payloads import (
    AdminAlertRaised,
    AttemptFailed,
    AutoRefund,
    ExtraCapture,
    FraudSignalRaised,
    InvoiceGenerated,
    Payload,
    PaymentChanged,
    PaymentDispute,
    PaymentSettlement,
    RefundChanged,
    RefundReleased,
    WebhookFailure,
    WebhookFailureCounted,
    WebhookReceived,
)

EVENTS: Final[Mapping[str, type[Payload]]] = {
    # payments: the payment entered a state (`paycore.payments.service.EVENTS_ON_ENTRY`)
    "payment.created": PaymentChanged,
    "payment.processing": PaymentChanged,
    "payment.success": PaymentChanged,
    "payment.failed": PaymentChanged,
    "payment.cancelled": PaymentChanged,
    "payment.refunded": PaymentChanged,
    "payment.attempt_failed": AttemptFailed,
    "payment.extra_capture": ExtraCapture,
    "payment.refund_released": RefundReleased,
    "payment.settlement_initiated": PaymentSettlement,
    "payment.settled": PaymentSettlement,
    "payment.settlement_failed": PaymentSettlement,
    "payment.settlement_reversed": PaymentSettlement,
    "payment.disputed": PaymentDispute,
    "payment.dispute_won": PaymentDispute,
    "payment.dispute_lost": PaymentDispute,
    # refunds (`paycore.refunds.service.EVENTS_ON_ENTRY`); refund.initiated feeds the worker
    "refund.initiated": RefundChanged,
    "refund.processing": RefundChanged,
    "refund.succeeded": RefundChanged,
    "refund.failed": RefundChanged,
    "refund.cancelled": RefundChanged,
    "refund.reversed": RefundChanged,
    # webhooks
    "webhook.cashfree.received": WebhookReceived,
    "webhook.cashfree.retry": WebhookFailure,
    "webhook.cashfree.failed": WebhookFailure,
    "webhook.cashfree.deadletter": WebhookFailure,
    # emails (the email worker consumes `email.#`)
    "email.payment.success": PaymentChanged,
    "email.payment.failed": PaymentChanged,
    "email.payment.refund": RefundChanged,
    "email.invoice.generated": InvoiceGenerated,
    "email.admin.alert": AdminAlertRaised,
    # analytics (archive and rollups)
    "analytics.payment.created": PaymentChanged,
    "analytics.payment.success": PaymentChanged,
    "analytics.payment.failed": PaymentChanged,
    "analytics.refund.created": RefundChanged,
    "analytics.refund.auto": AutoRefund,
    "analytics.webhook.failure": WebhookFailureCounted,
    "analytics.fraud.flagged": FraudSignalRaised,
    "analytics.fraud.blocked": FraudSignalRaised,
}


def payload_model(routing_key: str) -> type[Payload]:
    """The payload model of `routing_key`; `KeyError` for a key paycore does not publish."""
    return EVENTS[routing_key]
