"""What the processor and its operator command share: models, outboxes, queue, use case."""

from __future__ import annotations

from typing import Final

from beanie import Document
from paycore.alerts import AdminAlert
from paycore.audit.models import AuditRecord
from paycore.disputes.models import Dispute
from paycore.gateway import CashfreeGateway
from paycore.invoices.models import Invoice
from paycore.kit.broker import Consumer
from paycore.kit.crypto import cipher_for
from paycore.kit.service import Resources
from paycore.payments.models import Payment, Transaction
from paycore.refunds.models import Refund
from paycore.webhooks.models import WebhookLog
from paycore.webhooks.service import WebhookService

from webhook_processor.settings import Settings

MODELS: Final[list[type[Document]]] = [
    WebhookLog,
    Payment,
    Transaction,
    Refund,
    Invoice,
    AuditRecord,
    AdminAlert,
    Dispute,
]
# Every collection this service writes events into; its relay publishes them.
OUTBOXES: Final[list[type[Document]]] = [Payment, Refund, Invoice, WebhookLog, AdminAlert]
QUEUE: Final = "webhook-processor.webhooks"
EXCHANGE: Final = "webhook.exchange"
ROUTING_KEYS: Final = ("webhook.cashfree.received",)


def processor_resources(settings: Settings, *, relays: bool = True) -> tuple[Resources, Consumer]:
    """The service's connections and its consumer queue (subscribe before starting)."""
    resources = Resources(settings, models=MODELS, outboxes=OUTBOXES if relays else ())
    return resources, resources.consumer(QUEUE, EXCHANGE, ROUTING_KEYS)


def webhook_service(settings: Settings, gateway: CashfreeGateway) -> WebhookService:
    return WebhookService(
        gateway=gateway,
        confirm_with_gateway=settings.webhook_confirm_with_gateway,
        refund_extra_captures=settings.refund_extra_captures,
        cipher=cipher_for(settings),
    )
