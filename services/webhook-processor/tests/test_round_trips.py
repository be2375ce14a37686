"""MongoDB writes per webhook, counted with a PyMongo command listener on the real pipeline
(issue 17): the ingress stores an accepted webhook in one insert (its outbox removal shared with
other webhooks'); the processor applies a payment webhook with one write of the transaction and
one guarded update of the payment, and writes the log in a write shared with the other logs it
finishes meanwhile; the audit records and outbox removals those leave behind share their writes
across webhooks too."""

import asyncio
from typing import Any

from paycore.kit import audit
from paycore.kit.state import finish_audit_drains
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.repository import PaymentRepository
from paycore.testing import CommandCounter
from pymongo import monitoring
from webhook_pipeline import Pipeline, eventually, running_pipeline

WRITES = frozenset({"insert", "update", "delete", "findAndModify"})
WEBHOOKS = 6


# Registered before the pipeline's services build their clients (a listener cannot be removed:
# it counts only the database it is pointed at).
COUNTER = CommandCounter()
monitoring.register(COUNTER)


class LogFinishes(monitoring.CommandListener):
    """The `update webhook_logs` commands that finish logs (statements with a `$set`; the
    ingress's and the relays' removals are `$pullAll`s), and the statements they carry."""

    def __init__(self) -> None:
        self.database: str | None = None
        self.commands = 0
        self.statements = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name != self.database or event.command.get("update") != "webhook_logs":
            return
        finishes = [u for u in event.command.get("updates", []) if "$set" in u["u"]]
        if finishes:
            self.commands += 1
            self.statements += len(finishes)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


FINISHES = LogFinishes()
monitoring.register(FINISHES)


async def settled(pipeline: Pipeline, payments: list[Payment]) -> None:
    """Waits until every payment is SUCCESS with its events published and audit records
    chained, and every log is final with its outbox empty."""
    repository = PaymentRepository()

    async def done() -> bool:
        logs = await pipeline.logs()
        if len(logs) < len(payments) or any(log.processed_at is None or log.outbox for log in logs):
            return False
        for payment in payments:
            raw = await repository.collection.find_one({"_id": payment.payment_id})
            if raw is None or raw["status"] != PaymentStatus.SUCCESS.value or raw["outbox"]:
                return False
            if raw.get(audit.PENDING):
                return False
        return True

    await eventually(done, timeout=30)


async def test_writes_per_accepted_and_per_applied_payment_webhook() -> None:
    async with running_pipeline() as pipeline:
        orders = [await pipeline.new_order(with_invoice=False) for _ in range(WEBHOOKS)]
        COUNTER.database = FINISHES.database = pipeline.base.mongo_db
        COUNTER.counts.clear()

        await asyncio.gather(
            *(pipeline.emulator.control.pay(session, "SUCCESS") for _, session in orders)
        )
        await settled(pipeline, [payment for payment, _ in orders])
        await finish_audit_drains()
        writes: dict[str, Any] = {
            command: count
            for command, count in COUNTER.counts.items()
            if command.split()[0] in WRITES
        }
        COUNTER.database = FINISHES.database = None
        for payment, _ in orders:  # applied once each, however many runs
            stored = await PaymentRepository().get(payment.payment_id)
            assert stored is not None
            assert [r.to_status for r in stored.history if not r.ignored].count("SUCCESS") == 1

    # Ingress: one insert per accepted webhook; the confirmed `received` events leave the
    # outboxes in shared removals (at most one each).
    assert writes.pop("insert webhook_logs") == WEBHOOKS
    removals = writes.pop("update webhook_logs") - FINISHES.commands
    assert removals <= WEBHOOKS
    # Processor: each run that applies a webhook stores the gateway attempt once, makes one
    # guarded update of the payment (status, outbox, audit entry) and writes the log once (no
    # PROCESSING mark). A redelivery racing the first run (the broker requeues a message when
    # a channel drops) is one more run, whose guarded updates are refused: so runs >= webhooks.
    runs = writes.pop("update transactions")
    assert runs >= WEBHOOKS
    assert WEBHOOKS <= writes.pop("findAndModify payments") <= runs
    # The logs' final writes are statements of writes shared by the webhooks handled at once
    # (the processor handles up to its prefetch concurrently; these were paid together): fewer
    # writes than logs, none written alone (`findAndModify webhook_logs`, the path for a log
    # that changed meanwhile, is not taken: `writes == {}` below).
    assert FINISHES.statements == runs
    assert 1 <= FINISHES.commands < runs
    # Left behind, shared across webhooks: the audit records (inserts) and their chain heads
    # with the outbox removals (updates of payments): never more than one of each per webhook.
    assert 1 <= writes.pop("insert audit_logs") <= WEBHOOKS
    assert 1 <= writes.pop("update payments") <= 2 * WEBHOOKS
    assert writes == {}
