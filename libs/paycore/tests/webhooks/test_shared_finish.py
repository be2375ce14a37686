"""A log's final write shared with the logs finished at the same time (one bulk write), on the
real server: each log is written once with its own outcome and events, a log finished twice at
once keeps one outcome, and a log changed since it was read is decided again."""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence

import pytest
from paycore.events.payloads import WebhookFailure
from paycore.kit.events import OutboxEvent
from paycore.kit.ids import new_id
from paycore.kit.mongo import connect_mongo
from paycore.kit.state import listen_outbox, stop_listening
from paycore.testing import CommandCounter, isolated_settings
from paycore.webhooks.lifecycle import WebhookLogLifecycle
from paycore.webhooks.models import WebhookLog, WebhookStatus
from paycore.webhooks.outcome import Outcome
from paycore.webhooks.repository import WebhookLogRepository
from pymongo import monitoring

# Registered before the test's client is built (a listener cannot be removed).
COUNTER = CommandCounter()
monitoring.register(COUNTER)


@pytest.fixture
async def lifecycle() -> AsyncIterator[WebhookLogLifecycle]:
    settings = isolated_settings()
    client = await connect_mongo(settings, [WebhookLog])
    COUNTER.database = settings.mongo_db
    COUNTER.counts.clear()
    yield WebhookLogLifecycle(WebhookLogRepository())
    COUNTER.database = None
    await client.drop_database(settings.mongo_db)
    await client.close()


async def stored_log() -> WebhookLog:
    body = b'{"type":"PAYMENT_SUCCESS_WEBHOOK"}'
    log = WebhookLog(
        log_id=new_id("whk"),
        event_id=new_id("evt"),
        event_type="PAYMENT_SUCCESS_WEBHOOK",
        body=body.decode(),
        body_sha256=hashlib.sha256(body).hexdigest(),
        signature="sig",
        timestamp="0",
    )
    await WebhookLogRepository().insert(log)
    return log


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


async def test_logs_finished_at_once_share_one_write(lifecycle: WebhookLogLifecycle) -> None:
    logs = [await stored_log() for _ in range(8)]
    outcomes = [outcome(log, f"applied {n}") for n, log in enumerate(logs)]
    COUNTER.counts.clear()

    finished = await asyncio.gather(
        *(lifecycle.finish(log, o, log.received_at) for log, o in zip(logs, outcomes, strict=True))
    )

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


async def test_a_log_finished_twice_at_once_keeps_one_outcome(
    lifecycle: WebhookLogLifecycle,
) -> None:
    log = await stored_log()
    first, second = outcome(log, "applied"), outcome(log, "duplicate")
    announced: list[str] = []  # the events handed to the relay

    def relay(key: str, events: Sequence[OutboxEvent]) -> None:
        announced.extend(event.envelope.event_id for event in events)

    listen_outbox("webhook_logs", relay)
    try:
        answers = await asyncio.gather(
            lifecycle.finish(log, first, log.received_at),
            lifecycle.finish(log, second, log.received_at),
        )
    finally:
        stop_listening("webhook_logs", relay)

    stored = await lifecycle.get(log.log_id)
    assert stored.attempts == 1
    assert stored.version == log.version + 1
    # Only the outcome written carries its event; the other delivery's is not stored.
    [kept] = [o for o in (first, second) if o.outcome == stored.outcome]
    assert event_ids(stored) == announced == [kept.events[0].envelope.event_id]
    assert [written(answer) for answer in answers] == [written(stored)] * 2


async def test_a_log_changed_since_it_was_read_is_decided_again(
    lifecycle: WebhookLogLifecycle,
) -> None:
    log = await stored_log()
    # Another delivery failed meanwhile and noted it (a retry): the log is at the next version.
    await lifecycle.record_failure(log.log_id, TimeoutError("slow"), attempt=0, will_retry=True)

    finished = await lifecycle.finish(log, outcome(log, "applied"), log.received_at)

    stored = await lifecycle.get(log.log_id)
    assert written(finished) == written(stored)
    assert (stored.status, stored.outcome, stored.attempts) == (WebhookStatus.SUCCESS, "applied", 2)
    assert stored.last_error is None
    assert len(stored.outbox) == 2  # the retry note's event and this outcome's
