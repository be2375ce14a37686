"""Taking in a verified webhook: dedupe, store exactly as received, publish with a confirm.

Publishing is the outbox pattern with the ingress as its own fast path. The log is inserted
with its `webhook.cashfree.received` event in its outbox; the ingress then publishes that event
inline and waits for the broker's confirm before the 200; the removal from the outbox follows in
the background, shared with the other webhooks of the same moment (one write for many, so an
accepted webhook costs one write of its own). If the broker is down or slow, the
webhook is still stored and Cashfree still gets its 200: the event stays in the outbox, and the
outbox relay's sweep (any ingress instance, `Resources(outboxes=[(WebhookLog, KEY)])`)
publishes it once the grace period has passed and the broker is back. A crash between the
confirm and the removal (or a removal that fails) publishes twice; the processor ignores a log
that is already final.

The body is stored sealed with the PII cipher (it names the customer); its SHA-256 and the
signature stay in the clear, so a stored webhook can be verified once opened.

Dedupe: the unique index on `event_id` is the truth. Redis `webhook:event:{id}` is only a fast
path, written after the insert succeeded, so a failed insert never leaves a key behind that
would make Cashfree's retry look like a duplicate.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from loguru import logger
from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from paycore.events.payloads import WebhookReceived
from paycore.kit.broker import EventPublisher
from paycore.kit.crypto import FieldCipher
from paycore.kit.errors import DependencyUnavailable
from paycore.kit.events import OutboxEvent
from paycore.kit.futures import BackgroundTasks
from paycore.kit.ids import new_id
from paycore.kit.logging import mask_value
from paycore.kit.mongo import is_duplicate_key
from paycore.kit.outbox import RELAY_FAILURES, RELAYED
from paycore.kit.parsing import ascii_int, loads_json
from paycore.kit.redis import redis_key
from paycore.webhooks.errors import MalformedWebhook
from paycore.webhooks.models import BODY_CONTEXT, BodyEncoding, StoredHeader, WebhookLog
from paycore.webhooks.repository import WebhookLogRepository

RECEIVED_EVENT: Final = "webhook.cashfree.received"
SIGNATURE_HEADER: Final = "x-webhook-signature"
TIMESTAMP_HEADER: Final = "x-webhook-timestamp"
VERSION_HEADER: Final = "x-webhook-version"
ATTEMPT_HEADER: Final = "x-webhook-attempt"
IDEMPOTENCY_HEADER: Final = "x-idempotency-key"


@dataclass(frozen=True)
class Receipt:
    log_id: str | None
    event_id: str
    duplicate: bool
    published: bool = False


def event_id_of(body_sha256: str, headers: Mapping[str, str]) -> str:
    """Cashfree's `x-idempotency-key` (one per unique payload), else the body's SHA-256 (hex)."""
    key = (headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if key and len(key) <= 200:
        return key
    return "sha256:" + body_sha256


def stored_body(raw_body: bytes) -> tuple[str, BodyEncoding]:
    try:
        return raw_body.decode("utf-8"), BodyEncoding.UTF8
    except UnicodeDecodeError:
        return base64.b64encode(raw_body).decode(), BodyEncoding.BASE64


def masked_headers(headers: Mapping[str, str]) -> list[StoredHeader]:
    """Every header but the signature (stored on its own), sensitive values masked."""
    return [
        StoredHeader(name=name, value=str(mask_value(name, value))[:1000])
        for name, value in headers.items()
        if name.lower() != SIGNATURE_HEADER
    ]


def event_type_of(raw_body: bytes) -> str:
    """The body's `type`; called only after the signature held."""
    try:
        body = loads_json(raw_body)
    except ValueError as exc:
        raise MalformedWebhook("the webhook body is not JSON") from exc
    if not isinstance(body, dict):
        raise MalformedWebhook("the webhook body is not a JSON object")
    event_type = body.get("type")
    return event_type[:100] if isinstance(event_type, str) and event_type else "UNKNOWN"


class WebhookIntake:
    def __init__(
        self,
        publisher: EventPublisher,
        redis: Redis,
        cipher: FieldCipher,
        repository: WebhookLogRepository | None = None,
        *,
        redis_prefix: str = "",
        dedupe_ttl_seconds: int = 7 * 24 * 3600,
        publish_timeout_seconds: float = 3.0,
    ) -> None:
        self.publisher = publisher
        self.redis = redis
        self.cipher = cipher
        self.repository = repository or WebhookLogRepository()
        self.redis_prefix = redis_prefix
        self.dedupe_ttl_seconds = dedupe_ttl_seconds
        self.publish_timeout_seconds = publish_timeout_seconds
        self._removing = BackgroundTasks()

    def _key(self, event_id: str) -> str:
        return redis_key(self.redis_prefix, "webhook", "event", event_id)

    async def accept(
        self, raw_body: bytes, headers: Mapping[str, str], *, out_of_window: bool = False
    ) -> Receipt:
        """Stores a webhook whose signature held and publishes it; a repeat is a duplicate.
        `out_of_window`: its timestamp was outside the window, so the processor confirms it
        with the gateway (the durable dedupe by event id is the replay block).

        Raises `MalformedWebhook` (not JSON) or `DependencyUnavailable` (cannot store).
        """
        body_sha256 = hashlib.sha256(raw_body).hexdigest()
        event_id = event_id_of(body_sha256, headers)
        key = self._key(event_id)
        if await self._seen(key):
            return Receipt(None, event_id, duplicate=True)
        event_type = event_type_of(raw_body)
        log = self._new_log(raw_body, body_sha256, headers, event_id, event_type)
        log.out_of_window = out_of_window
        try:
            stored = await self.repository.insert(log)
        except PyMongoError as exc:
            if is_duplicate_key(exc):
                await self._remember(key, "stored")
                return Receipt(None, event_id, duplicate=True)
            logger.error("cannot store webhook", eventId=event_id, error=repr(exc)[:300])
            raise DependencyUnavailable("the webhook could not be stored; retry") from exc
        await self._remember(key, log.log_id)
        published = await self._publish(log.log_id, log.outbox[0], stored["outbox"][0])
        return Receipt(log.log_id, event_id, duplicate=False, published=published)

    def _new_log(
        self,
        raw_body: bytes,
        body_sha256: str,
        headers: Mapping[str, str],
        event_id: str,
        event_type: str,
    ) -> WebhookLog:
        body, encoding = stored_body(raw_body)
        log_id = new_id("whk")
        attempt = ascii_int(headers.get(ATTEMPT_HEADER), max_digits=5)
        log = WebhookLog(
            log_id=log_id,
            event_id=event_id,
            event_type=event_type,
            webhook_version=headers.get(VERSION_HEADER) or None,
            sealed_body=self.cipher.seal(body, BODY_CONTEXT),
            body_encoding=encoding,
            body_sha256=body_sha256,
            signature=headers.get(SIGNATURE_HEADER, ""),
            timestamp=headers.get(TIMESTAMP_HEADER, ""),
            delivery_attempt=attempt,
            headers=masked_headers(headers),
        )
        received = WebhookReceived(log_id=log_id, event_id=event_id, event_type=event_type)
        log.outbox = [OutboxEvent.of(RECEIVED_EVENT, received)]
        return log

    async def _publish(self, log_id: str, event: OutboxEvent, stored_event: dict[str, Any]) -> bool:
        """Publishes `event` (the log's outbox entry; `stored_event` is it as stored, the exact
        value its removal matches) and waits for the confirm; True if published."""
        # This is the collection's outbox fast path, so its outcomes are counted here, by the
        # process that met them: the sweep that retries a failure may run in another process
        # (whoever holds the collection's sweep lock, e.g. the webhook-processor), which would
        # publish it without ever seeing this one's broker fail.
        collection = WebhookLog.get_settings().name or WebhookLog.__name__
        # Known to be disconnected: answer now rather than wait for the confirm timeout.
        if not await self.publisher.broker.ping(timeout=0.01):
            RELAY_FAILURES.labels(collection).inc()
            logger.warning("broker unavailable; the outbox sweep will publish", logId=log_id)
            return False
        try:
            await self.publisher.publish(event, timeout=self.publish_timeout_seconds)
        except Exception as exc:
            # Stored: the outbox sweep publishes it when the broker is back.
            RELAY_FAILURES.labels(collection).inc()
            logger.warning(
                "webhook stored but not published; the outbox sweep will publish it",
                logId=log_id,
                error=repr(exc)[:300],
            )
            return False
        RELAYED.labels(collection, "fast").inc()
        # Tells the sweep the event went out. Nothing waits on it: the 200 needs only the
        # insert and the confirm, and removals lingering together share one write.
        self._removing.start(self._remove_published(log_id, stored_event))
        return True

    async def _remove_published(self, log_id: str, stored_event: dict[str, Any]) -> None:
        try:
            await self.repository.remove_published(log_id, stored_event)
        except Exception as exc:  # a background task: whatever the driver raised, say it here
            # Published: the sweep publishes it again, and the processor ignores the repeat.
            logger.warning(
                "webhook published but left in its outbox", logId=log_id, error=repr(exc)[:300]
            )

    async def finish_in_flight(self) -> None:
        """Waits for the removals still pending (at shutdown, before the database closes)."""
        await self._removing.finish()

    async def _seen(self, key: str) -> bool:
        try:
            return bool(await self.redis.exists(key))
        except RedisError as exc:
            # Only the fast path: the unique index still catches the duplicate.
            logger.warning("webhook dedupe cache unavailable", error=repr(exc)[:200])
            return False

    async def _remember(self, key: str, log_id: str) -> None:
        try:
            await self.redis.set(key, log_id, ex=self.dedupe_ttl_seconds)
        except RedisError as exc:
            logger.warning("webhook dedupe cache unavailable", error=repr(exc)[:200])
