"""The reconciler: reconciliation runs, the janitor for unknown states, analytics rollups and
failure-spike alerts. HTTP only for health and metrics."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from faststream import AckPolicy
from faststream.rabbit import RabbitMessage
from loguru import logger
from paycore.alerts import AdminAlert
from paycore.audit.models import AuditRecord
from paycore.disputes.models import Dispute
from paycore.fraud.screening import failure_counter
from paycore.gateway import CashfreeGateway
from paycore.invoices.models import Invoice
from paycore.kit.broker import CONSUMER_QUEUES, Consumer, archive_queue
from paycore.kit.events import EventEnvelope
from paycore.kit.http import create_app
from paycore.kit.service import Resources
from paycore.payments.models import Payment, Transaction
from paycore.reconciliation.engine import ReconciliationEngine
from paycore.reconciliation.janitor import Janitor
from paycore.reconciliation.models import (
    DailyRollup,
    ReconciliationItem,
    ReconciliationRun,
)
from paycore.reconciliation.rollups import RollupRecorder
from paycore.refunds.models import Refund
from paycore.webhooks.models import WebhookLog
from starlette.applications import Starlette

from reconciler.jobs import scheduled_jobs
from reconciler.settings import Settings

# Readiness requires only what this service cannot work without: its jobs run under Redis locks;
# the analytics consumer can wait for the broker.
READY = ("database", "redis")

MODELS = [
    Dispute,
    Payment,
    Transaction,
    Refund,
    Invoice,
    AuditRecord,
    ReconciliationRun,
    ReconciliationItem,
    AdminAlert,
    DailyRollup,
    WebhookLog,  # retention, and compared by reconciliation
]


def reconciliation_engine(settings: Settings, gateway: CashfreeGateway) -> ReconciliationEngine:
    return ReconciliationEngine(
        gateway,
        Janitor(gateway),
        settlement_sla={
            method: timedelta(hours=hours)
            for method, hours in settings.settlement_sla_hours.items()
        },
        default_settlement_sla=timedelta(hours=settings.default_settlement_sla_hours),
    )


def build_app(settings: Settings) -> Starlette:
    resources = Resources(
        settings,
        models=MODELS,
        outboxes=[Payment, AdminAlert],
    )
    assert resources.broker is not None
    # Every consumer queue, watched from here too (paycore.alerts.queues.watch_queues).
    watched = [Consumer(resources.broker, settings, name, "", ()) for name in CONSUMER_QUEUES]

    @resources.broker.subscriber(archive_queue(settings), ack_policy=AckPolicy.MANUAL)
    async def on_archived_event(body: bytes, msg: RabbitMessage) -> None:
        assert resources.redis is not None  # connected before the broker starts consuming
        recorder = RollupRecorder(
            resources.redis, settings.redis_prefix, settings.failure_spike_per_minute
        )
        try:
            await recorder.record(EventEnvelope.model_validate_json(msg.body))
        except ValueError:
            logger.warning("archived message is not an event; dropped", messageId=msg.message_id)
        except Exception:
            logger.exception("rollup failed; message requeued")
            await msg.nack(requeue=True)
            return
        await msg.ack()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway = CashfreeGateway(settings)
        engine = reconciliation_engine(settings, gateway)
        engine.payments.on_attempt_failed = failure_counter(
            resources, settings.fraud_failure_window_seconds, settings.redis_prefix
        )
        async with resources.running(loops=scheduled_jobs(settings, engine, resources, watched)):
            app.state.resources = resources
            yield
        await gateway.aclose()

    return create_app(settings, [], lifespan=lifespan, checks=resources.checks(), ready=READY)
