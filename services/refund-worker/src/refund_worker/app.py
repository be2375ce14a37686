from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from paycore.alerts import AdminAlert
from paycore.audit.models import AuditRecord
from paycore.gateway import CashfreeGateway
from paycore.invoices.models import Invoice
from paycore.kit.http import create_app
from paycore.kit.recheck import unknown_refund
from paycore.kit.service import Resources
from paycore.payments.models import Payment, Transaction
from paycore.refunds.execution import RefundExecutor
from paycore.refunds.models import Refund
from starlette.applications import Starlette

from refund_worker.locks import RefundLocks
from refund_worker.settings import Settings
from refund_worker.subscribers import RefundPoller, RefundSubscriber

# Readiness requires only what this service cannot work without: it consumes the broker; Redis
# locks keep one submission per refund.
READY = ("database", "queues", "redis")

CONSUMER = "refund-worker.refunds"


def build_app(settings: Settings) -> Starlette:
    resources = Resources(
        settings,
        models=[Payment, Transaction, Refund, Invoice, AuditRecord, AdminAlert],
        outboxes=[Payment, Refund, AdminAlert],
    )
    consumer = resources.consumer(CONSUMER, "refund.exchange", ("refund.initiated",))
    gateway = CashfreeGateway(settings)
    executor = RefundExecutor(
        gateway, poll_backoff=unknown_refund(settings.refund_poll_after_seconds)
    )
    locks = RefundLocks(resources, settings.refund_lock_seconds)
    consumer.subscribe(RefundSubscriber(executor, locks).handle)
    poller = RefundPoller(
        executor,
        locks,
        after=timedelta(seconds=settings.refund_poll_after_seconds),
        interval=settings.refund_poll_interval_seconds,
        batch=settings.refund_poll_batch,
    )

    async def poll_refunds(resources: Resources) -> None:
        await poller.run_forever()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with resources.running(loops=[poll_refunds]):
                app.state.resources = resources
                app.state.executor = executor
                yield
        finally:
            await gateway.aclose()

    return create_app(settings, [], lifespan=lifespan, checks=resources.checks(), ready=READY)
