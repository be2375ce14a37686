"""The processing use case against the real database (no broker: events stay in outboxes)."""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager

import pytest
from paycore.alerts import AdminAlert
from paycore.events.payloads import WebhookFailure
from paycore.invoices.models import Invoice
from paycore.kit.events import OutboxEvent
from paycore.kit.ids import new_id
from paycore.kit.mongo import connect_mongo
from paycore.kit.state import finish_audit_drains, listen_outbox, stop_listening
from paycore.payments.models import Payment, SettlementStatus, Transaction
from paycore.payments.repository import PaymentRepository
from paycore.refunds.models import Refund
from paycore.testing import CommandCounter, create_payment, isolated_settings
from paycore.webhooks.errors import MalformedWebhook
from paycore.webhooks.lifecycle import WebhookLogLifecycle
from paycore.webhooks.models import WebhookLog, WebhookStatus
from paycore.webhooks.outcome import Outcome
from paycore.webhooks.repository import WebhookLogRepository
from paycore.webhooks.service import WebhookService
from pymongo import monitoring

# Registered before the tests' clients are built (a listener cannot be removed).
COUNTER = CommandCounter()
monitoring.register(COUNTER)


@pytest.fixture
async def db() -> AsyncIterator[None]:
    settings = isolated_settings()
    client = await connect_mongo(
        settings, [WebhookLog, Payment, Transaction, Refund, Invoice, AdminAlert]
    )
    yield
    await finish_audit_drains()
    await client.drop_database(settings.mongo_db)
    await client.close()


async def stored_log(event_type: str, body: bytes) -> WebhookLog:
    log = WebhookLog(
        log_id=new_id("whk"),
        event_id=new_id("evt"),
        event_type=event_type,
        webhook_version="2025-01-01",
        body=body.decode(),
        body_sha256=hashlib.sha256(body).hexdigest(),
        signature="sig",
        timestamp="0",
    )
    await WebhookLogRepository().insert(log)
    return log


def settlement_body(event_type: str, order_id: str) -> bytes:
    return (
        f'{{"data":{{"settlement":{{"settlement_id":738,"order_id":"{order_id}","utr":1644822317781212,'
        f'"settlement_amount":97.94,"service_charge":1.75,"service_tax":0.31}}}},"type":"{event_type}"}}'
    ).encode()


@pytest.mark.usefixtures("db")
class TestSettlement:
    async def test_a_late_earlier_stage_does_not_undo_a_later_one(self) -> None:
        payment = await create_payment()
        service = WebhookService()
        for event_type in ("SETTLEMENT_SUCCESS", "SETTLEMENT_INITIATED"):
            log = await stored_log(event_type, settlement_body(event_type, payment.order_id))
            await service.process(log.log_id)

        stored = await PaymentRepository().get(payment.payment_id)
        assert stored is not None
        assert stored.settlement is not None
        assert stored.settlement.status == SettlementStatus.SETTLED
        assert stored.settlement.settled_amount == 9_794
        assert [e.envelope.type for e in stored.outbox] == ["payment.settled"]

    async def test_a_reversal_is_recorded_and_alerts(self) -> None:
        payment = await create_payment()
        service = WebhookService()
        for event_type in ("SETTLEMENT_SUCCESS", "SETTLEMENT_REVERSED"):
            log = await stored_log(event_type, settlement_body(event_type, payment.order_id))
            done = await service.process(log.log_id)

        assert done.outcome == "applied"
        alerts = await AdminAlert.find_all().to_list()
        assert [(a.kind, a.detail["payment_id"]) for a in alerts] == [
            ("settlement_reversed", payment.payment_id)
        ]
        stored = await PaymentRepository().get(payment.payment_id)
        assert stored is not None
        assert stored.settlement is not None
        assert stored.settlement.status == SettlementStatus.REVERSED


@pytest.mark.usefixtures("db")
class TestFailures:
    @staticmethod
    async def malformed_and_recorded(service: WebhookService, *, will_retry: bool) -> WebhookLog:
        """A log whose processing fails (an empty body), its failure recorded; as stored then."""
        log = await stored_log("PAYMENT_SUCCESS_WEBHOOK", b"{}")
        with pytest.raises(MalformedWebhook) as failure:
            await service.process(log.log_id)
        await service.record_failure(log.log_id, failure.value, attempt=0, will_retry=will_retry)
        return await service.get(log.log_id)

    async def test_a_retried_failure_keeps_the_log_open_with_a_retry_event(self) -> None:
        noted = await self.malformed_and_recorded(WebhookService(), will_retry=True)
        assert noted.status == WebhookStatus.RECEIVED  # still to apply: the retry will
        assert [e.envelope.type for e in noted.outbox] == ["webhook.cashfree.retry"]

    async def test_a_final_failure_is_dead_lettered_with_its_events(self) -> None:
        service = WebhookService()
        failed = await self.malformed_and_recorded(service, will_retry=False)
        assert failed.status == WebhookStatus.FAILED
        assert failed.dead_lettered
        assert "MalformedWebhook" in (failed.last_error or "")
        assert [e.envelope.type for e in failed.outbox] == [
            "webhook.cashfree.failed",
            "webhook.cashfree.deadletter",
            "analytics.webhook.failure",
        ]
        [alert] = await AdminAlert.find_all().to_list()
        assert (alert.kind, alert.detail["log_id"]) == ("webhook_dead_lettered", failed.log_id)
        # A later delivery of the same message changes nothing.
        assert (await service.process(failed.log_id)).version == failed.version

    async def test_a_dead_lettered_webhook_names_its_order_for_reconciliation(self) -> None:
        # Its processing failed before it was applied (e.g. Cashfree could not confirm it):
        # the log still names the order, so reconciliation finds it unapplied.
        payment = await create_payment()
        body = settlement_body("SETTLEMENT_SUCCESS", payment.order_id)
        log = await stored_log("SETTLEMENT_SUCCESS", body)
        service = WebhookService()

        error = RuntimeError("cashfree 500")
        await service.record_failure(log.log_id, error, attempt=0, will_retry=True)
        assert (await service.get(log.log_id)).order_id == payment.order_id
        await service.record_failure(log.log_id, error, attempt=3, will_retry=False)

        failed = await service.get(log.log_id)
        assert (failed.status, failed.dead_lettered) == (WebhookStatus.FAILED, True)
        assert failed.order_id == payment.order_id


SUCCESS = ("PAYMENT_SUCCESS_WEBHOOK", b"{}")


def outcome(log: WebhookLog, name: str) -> Outcome:
    """An outcome with one event of its own (any catalogued event will do)."""
    event = OutboxEvent.of(
        "webhook.cashfree.retry",
        WebhookFailure(log_id=log.log_id, event_type=log.event_type, attempt=1, error=name),
    )
    return Outcome(WebhookStatus.SUCCESS, name, events=[event])


def event_ids(log: WebhookLog) -> list[str]:
    return [event.envelope.event_id for event in log.outbox]


def written(log: WebhookLog) -> tuple[object, ...]:
    """What a finish writes (times aside: the stored ones are in milliseconds)."""
    return (log.status, log.outcome, log.attempts, log.version, event_ids(log))


@contextmanager
def announced_events() -> Iterator[list[str]]:
    """The ids of the events handed to the webhook logs' relay meanwhile."""
    announced: list[str] = []

    def relay(key: str, events: Sequence[OutboxEvent]) -> None:
        announced.extend(event.envelope.event_id for event in events)

    listen_outbox("webhook_logs", relay)
    try:
        yield announced
    finally:
        stop_listening("webhook_logs", relay)


@pytest.mark.usefixtures("db")
class TestSharedFinish:
    """A log's final write shared with the logs finished at the same time (one bulk write):
    each log written once with its own outcome and events, a log finished twice at once
    keeping one outcome, a log changed since it was read decided again."""

    async def test_logs_finished_at_once_share_one_write(self) -> None:
        lifecycle = WebhookLogLifecycle()
        logs = [await stored_log(*SUCCESS) for _ in range(8)]
        outcomes = [outcome(log, f"applied {n}") for n, log in enumerate(logs)]
        COUNTER.database = WebhookLog.get_pymongo_collection().database.name
        COUNTER.counts.clear()

        finished = await asyncio.gather(
            *(
                lifecycle.finish(log, o, log.received_at)
                for log, o in zip(logs, outcomes, strict=True)
            )
        )

        COUNTER.database = None
        assert dict(COUNTER.counts) == {"update webhook_logs": 1}
        for log, o, answer in zip(logs, outcomes, finished, strict=True):
            stored = await lifecycle.get(log.log_id)
            assert (stored.status, stored.outcome, stored.attempts) == (
                WebhookStatus.SUCCESS,
                o.outcome,
                1,
            )
            assert stored.version == log.version + 1
            assert event_ids(stored) == [o.events[0].envelope.event_id]
            assert written(answer) == written(stored)  # as written, without reading it back

    async def test_a_log_finished_twice_at_once_keeps_one_outcome(self) -> None:
        lifecycle = WebhookLogLifecycle()
        log = await stored_log(*SUCCESS)
        first, second = outcome(log, "applied"), outcome(log, "duplicate")
        with announced_events() as announced:
            answers = await asyncio.gather(
                lifecycle.finish(log, first, log.received_at),
                lifecycle.finish(log, second, log.received_at),
            )

        stored = await lifecycle.get(log.log_id)
        assert stored.attempts == 1
        assert stored.version == log.version + 1
        # Only the outcome written carries its event; the other delivery's is not stored.
        [kept] = [o for o in (first, second) if o.outcome == stored.outcome]
        assert event_ids(stored) == announced == [kept.events[0].envelope.event_id]
        assert [written(answer) for answer in answers] == [written(stored)] * 2

    async def test_a_log_changed_since_it_was_read_is_decided_again(self) -> None:
        lifecycle = WebhookLogLifecycle()
        log = await stored_log(*SUCCESS)
        # Another delivery failed meanwhile and noted it (a retry): the log is at the next version.
        await lifecycle.record_failure(log.log_id, TimeoutError("slow"), attempt=0, will_retry=True)

        finished = await lifecycle.finish(log, outcome(log, "applied"), log.received_at)

        stored = await lifecycle.get(log.log_id)
        assert written(finished) == written(stored)
        assert (stored.status, stored.outcome, stored.attempts) == (
            WebhookStatus.SUCCESS,
            "applied",
            2,
        )
        assert stored.last_error is None
        assert len(stored.outbox) == 2  # the retry note's event and this outcome's

    async def test_a_log_whose_write_fails_does_not_fail_the_logs_written_with_it(self) -> None:
        lifecycle = WebhookLogLifecycle()
        broken, *logs = [await stored_log(*SUCCESS) for _ in range(4)]
        # A stored value its update cannot apply to (`$inc` on a string): that statement fails,
        # first in the shared write.
        await WebhookLog.get_pymongo_collection().update_one(
            {"_id": broken.log_id}, {"$set": {"attempts": "many"}}
        )
        outcomes = [outcome(log, "applied") for log in logs]
        with announced_events() as announced:
            answers = await asyncio.gather(
                lifecycle.finish(broken, outcome(broken, "applied"), broken.received_at),
                *(
                    lifecycle.finish(log, o, log.received_at)
                    for log, o in zip(logs, outcomes, strict=True)
                ),
                return_exceptions=True,
            )

        # Its own error only (MongoDB: a BulkWriteError; the local server answers with write
        # errors PyMongo cannot read: a KeyError).
        assert isinstance(answers[0], Exception)
        for log, o, answer in zip(logs, outcomes, answers[1:], strict=True):
            assert isinstance(answer, WebhookLog), answer
            stored = await lifecycle.get(log.log_id)
            assert (stored.status, stored.attempts, stored.version) == (
                WebhookStatus.SUCCESS,
                1,
                log.version + 1,
            )
            assert event_ids(stored) == [o.events[0].envelope.event_id]
            assert written(answer) == written(stored)
        assert sorted(announced) == sorted(o.events[0].envelope.event_id for o in outcomes)
