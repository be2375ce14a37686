"""Webhook delivery: signed POSTs as background tasks, Cashfree's redelivery schedule, faults."""

import asyncio
import contextlib
import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from cashfree_emulator.schemas import Fault, FaultKind, MerchantConfig, WebhookAttempt
from cashfree_emulator.signing import payload_idempotency_key, webhook_signature
from cashfree_emulator.wire import JsonObject, dumps, iso, now_ist

if TYPE_CHECKING:
    from cashfree_emulator.emulator import Emulator

# Default policy: up to 3 retries at 2, 10 and 30 minutes (scaled by webhook_retry_scale).
RETRY_DELAYS_SECONDS = (120.0, 600.0, 1800.0)
_AMOUNT_KEYS = frozenset({"order_amount", "payment_amount", "refund_amount"})


def _shift_amounts(node: Any, delta: Decimal) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _AMOUNT_KEYS and isinstance(value, Decimal | int):
                node[key] = value + delta
            else:
                _shift_amounts(value, delta)
    elif isinstance(node, list):
        for item in node:
            _shift_amounts(item, delta)


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one URL, with the webhook faults armed for it."""

    merchant: MerchantConfig
    event_type: str
    body: bytes
    url: str
    faults: dict[FaultKind, Fault]

    @property
    def fault_names(self) -> str | None:
        return ",".join(sorted(kind.value for kind in self.faults)) or None


class WebhookDispatcher:
    def __init__(self, emulator: "Emulator") -> None:
        self._emulator = emulator
        self._held: list[asyncio.Event] = []

    def emit(
        self,
        app_id: str,
        build: Callable[[str], JsonObject],
        extra_urls: Iterable[str | None] = (),
    ) -> None:
        """Queue one event for every webhook URL of the merchant (plus e.g. the notify_url)."""
        merchant = self._emulator.store.merchants.get(app_id)
        if merchant is None:
            return
        payload = build(merchant.webhook_version)
        event_type = str(payload["type"])
        faults = {f.kind: f for f in self._emulator.faults.take_webhook_faults(app_id, event_type)}
        mismatch = faults.get(FaultKind.WEBHOOK_AMOUNT_MISMATCH)
        if mismatch is not None:
            payload = copy.deepcopy(payload)
            _shift_amounts(payload["data"], mismatch.amount_delta)
        body = dumps(payload).encode()
        urls = dict.fromkeys(u for u in [*merchant.webhook_urls, *extra_urls] if u)
        for url in urls:
            self._emulator.spawn(self._deliver(Delivery(merchant, event_type, body, url, faults)))

    async def _deliver(self, delivery: Delivery) -> None:
        faults = delivery.faults
        if FaultKind.WEBHOOK_DROP in faults:
            self._record(delivery, 1, {}, None, None, "dropped")
            return
        delay = faults.get(FaultKind.WEBHOOK_DELAY)
        if delay is not None:
            await asyncio.sleep(delay.delay_ms / 1000)
        hold = faults.get(FaultKind.WEBHOOK_OUT_OF_ORDER)
        if hold is not None:
            await self._wait_for_next_webhook(hold.hold_timeout_seconds)
        duplicate = faults.get(FaultKind.WEBHOOK_DUPLICATE)
        copies = duplicate.copies if duplicate else 1
        await asyncio.gather(
            *(self._deliver_with_retries(delivery, hold is None) for _ in range(copies))
        )

    async def _wait_for_next_webhook(self, timeout: float) -> None:
        released = asyncio.Event()
        self._held.append(released)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), timeout)
        finally:
            self._held.remove(released)

    async def _deliver_with_retries(self, delivery: Delivery, releases_held: bool) -> None:
        merchant, body, faults = delivery.merchant, delivery.body, delivery.faults
        stale = faults.get(FaultKind.WEBHOOK_STALE_TIMESTAMP)
        secret = merchant.secret_key
        if FaultKind.WEBHOOK_BAD_SIGNATURE in faults:
            secret = "not-" + secret
        for attempt in range(1, len(RETRY_DELAYS_SECONDS) + 2):
            now_ms = int(time.time() * 1000)
            timestamp = str(now_ms - stale.age_seconds * 1000 if stale else now_ms)
            headers = {
                "content-type": "application/json",
                "x-webhook-signature": webhook_signature(secret, timestamp, body),
                "x-webhook-timestamp": timestamp,
                "x-webhook-version": merchant.webhook_version,
                "x-webhook-attempt": str(attempt),
            }
            if merchant.webhook_version == "2025-01-01":
                headers["x-idempotency-key"] = payload_idempotency_key(body)
            status, error = await self._post(delivery.url, body, headers)
            delivered = status is not None and 200 <= status < 300
            outcome = "delivered" if delivered else "failed"
            self._record(delivery, attempt, headers, status, error, outcome)
            if attempt == 1 and releases_held:
                for held in list(self._held):
                    held.set()
            if delivered or attempt > len(RETRY_DELAYS_SECONDS):
                return
            scale = self._emulator.config.webhook_retry_scale
            await asyncio.sleep(RETRY_DELAYS_SECONDS[attempt - 1] * scale)

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        timeout = self._emulator.config.webhook_timeout_seconds
        try:
            response = await self._emulator.http().post(
                url, content=body, headers=headers, timeout=timeout
            )
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None

    def _record(
        self,
        delivery: Delivery,
        attempt: int,
        headers: dict[str, str],
        status: int | None,
        error: str | None,
        outcome: str,
    ) -> None:
        store = self._emulator.store
        store.deliveries.append(
            WebhookAttempt(
                id=store.next_record_id(),
                app_id=delivery.merchant.app_id,
                event_type=delivery.event_type,
                url=delivery.url,
                attempt=attempt,
                headers=headers,
                body=delivery.body.decode(),
                status_code=status,
                error=error,
                outcome=outcome,
                fault=delivery.fault_names,
                sent_at=iso(now_ist()) or "",
            )
        )
