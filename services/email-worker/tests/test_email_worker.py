"""The email-worker on the real broker, database and an SMTP server: one email per event,
SMTP outages ridden out through the delay queues, then the dead-letter queue and a replay."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aio_pika import IncomingMessage
from email_worker.settings import Settings
from email_worker_rig import running_worker, worker_settings
from paycore.emails.models import EmailLog, EmailStatus
from paycore.kit.broker import Consumer, EventPublisher
from paycore.kit.crypto import cipher_for
from paycore.kit.events import EventEnvelope, OutboxEvent
from paycore.payments.models import Customer, Payment
from paycore.testing import create_payment, eventually
from prometheus_client import REGISTRY
from pydantic import ValidationError
from smtp_sink.testing import RunningSmtpSink

BUYER = "buyer@example.com"


@dataclass
class Worker:
    settings: Settings
    publisher: EventPublisher
    consumer: Consumer
    sink: RunningSmtpSink


@pytest.fixture
async def worker(sink: RunningSmtpSink) -> AsyncIterator[Worker]:
    sink.inbox.clear()
    if not sink.running:
        sink.start()
    settings = worker_settings(sink)
    async with running_worker(settings) as resources:
        assert resources.publisher is not None
        [consumer] = resources.consumers
        yield Worker(settings, resources.publisher, consumer, sink)
    if not sink.running:
        sink.start()


async def paid_payment(worker: Worker) -> Payment:
    settings = worker.settings
    cipher = cipher_for(settings)
    customer = Customer(
        customer_id="cus_1",
        email=cipher.seal(BUYER, "customer.email"),
        email_hash=cipher.lookup_hash(BUYER),
        phone=cipher.seal("9999999999", "customer.phone"),
        phone_hash=cipher.lookup_hash("9999999999"),
    )
    return await create_payment(customer=customer, amount=54_321)


def success_event(payment: Payment) -> OutboxEvent:
    return OutboxEvent.of("email.payment.success", {**payment.summary(), "status": "SUCCESS"})


def emails_counted(outcome: str, kind: str = "payment_success") -> float:
    value = REGISTRY.get_sample_value("paycore_emails_total", {"type": kind, "outcome": outcome})
    return value or 0.0


async def email_log(event: OutboxEvent) -> EmailLog | None:
    key = f"{event.envelope.event_id}:payment_success"
    raw = await EmailLog.get_pymongo_collection().find_one({"key": key})
    return EmailLog.model_validate(raw) if raw is not None else None


async def next_dead_letter(consumer: Consumer, timeout: float = 10.0) -> IncomingMessage:
    async with asyncio.timeout(timeout):
        # A queue to poll: nothing signals its arrival in this process.
        while (dead := await consumer.take_dead_letter()) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return dead


async def test_an_event_delivered_three_times_sends_one_email(worker: Worker) -> None:
    event = success_event(await paid_payment(worker))
    duplicates_before = emails_counted("duplicate")
    for _ in range(3):
        await worker.publisher.publish(event)
    [mail] = await worker.sink.inbox.wait_for(1, to=BUYER)
    assert mail.subject == "Payment received: ₹543.21"

    async def all_three_handled() -> bool:
        return emails_counted("duplicate") - duplicates_before == 2

    await eventually(all_three_handled)
    await asyncio.sleep(0.3)
    assert len(worker.sink.inbox.messages()) == 1
    log = await email_log(event)
    assert log is not None
    assert (log.status, log.attempts) == (EmailStatus.SENT, 1)


async def test_smtp_down_then_up_the_email_arrives(worker: Worker) -> None:
    event = success_event(await paid_payment(worker))
    worker.sink.stop()
    await worker.publisher.publish(event)

    async def first_attempt_failed() -> bool:
        log = await email_log(event)
        return log is not None and log.status == EmailStatus.FAILED

    await eventually(first_attempt_failed)
    worker.sink.start()
    [mail] = await worker.sink.inbox.wait_for(1, to=BUYER)
    assert mail.headers["X-Paycore-Event-Id"] == event.envelope.event_id

    async def recorded_as_sent() -> bool:
        log = await email_log(event)
        return log is not None and log.status == EmailStatus.SENT and log.attempts >= 2

    await eventually(recorded_as_sent)


async def test_when_retries_run_out_the_event_waits_in_the_dead_letter_queue(
    worker: Worker,
) -> None:
    event = success_event(await paid_payment(worker))
    given_up = REGISTRY.get_sample_value(
        "paycore_emails_dead_lettered_total", {"type": "payment_success"}
    )
    worker.sink.stop()
    await worker.publisher.publish(event)
    dead = await next_dead_letter(worker.consumer)
    assert dead.headers["paycore-attempt"] == len(worker.settings.retry_delays_ms)
    await dead.nack(requeue=True)  # leave it there for the replay
    log = await email_log(event)
    assert log is not None
    assert (log.status, log.attempts) == (
        EmailStatus.FAILED,
        1 + len(worker.settings.retry_delays_ms),
    )
    after = REGISTRY.get_sample_value(
        "paycore_emails_dead_lettered_total", {"type": "payment_success"}
    )
    assert (after or 0) - (given_up or 0) == 1

    worker.sink.start()  # the relay is back: an operator replays the dead letters
    assert await worker.consumer.replay_dead_letters() == 1
    [mail] = await worker.sink.inbox.wait_for(1, to=BUYER)
    assert mail.message_id == log.message_id


async def test_an_event_without_an_email_goes_straight_to_the_dead_letter_queue(
    worker: Worker,
) -> None:
    await worker.publisher.publish(unlisted("email.newsletter.weekly", {"issue": 1}))
    dead = await next_dead_letter(worker.consumer)
    assert "UnknownEmailType" in str(dead.headers["paycore-last-error"])
    assert dead.headers["paycore-attempt"] == 0
    await dead.ack()


def unlisted(routing_key: str, data: dict[str, object]) -> OutboxEvent:
    """An event of a key paycore never publishes (`OutboxEvent.of` refuses those)."""
    return OutboxEvent(envelope=EventEnvelope(type=routing_key, data=data))


def test_a_claim_shorter_than_an_smtp_conversation_and_its_record_is_refused(
    sink: RunningSmtpSink,
) -> None:
    # A redelivery could otherwise take over an email still being sent, and send it again.
    with pytest.raises(ValidationError, match="EMAIL_CLAIM_SECONDS must be at least"):
        worker_settings(sink, smtp_timeout_seconds=5, email_claim_seconds=6)
    assert worker_settings(sink, smtp_timeout_seconds=5, email_claim_seconds=10)
