"""`EmulatorControl`: an async client for the `/_emulator/` control API, for tests."""

import asyncio
from decimal import Decimal
from typing import Any, Final, Literal, Self

import httpx

from cashfree_emulator.schemas import (
    ApiCall,
    EmulatorConfig,
    Fault,
    FaultKind,
    FaultSpec,
    MerchantConfig,
    PaymentOutcome,
    RefundResolution,
    SettlementStatus,
    WebhookAttempt,
    WebhookVersion,
)
from cashfree_emulator.wire import JsonObject, JsonValue, dumps, loads

Amount = Decimal | int | str

# The faults that hold the next calls `seconds`, by what they do with each call.
HELD_CALLS: Final = {
    "hang": FaultKind.API_TIMEOUT,  # not executed: the connection is held, then dropped
    "slow": FaultKind.API_SLOW,  # executed and answered normally, late
    "lose": FaultKind.RESPONSE_LOST,  # executed, but its response is held, then dropped
}
Hold = Literal["hang", "slow", "lose"]


def _decimal(amount: Amount | None) -> Decimal | None:
    return None if amount is None else Decimal(amount)


class EmulatorControlError(Exception):
    def __init__(self, status: int, body: JsonValue) -> None:
        super().__init__(f"emulator control call failed with {status}: {body}")
        self.status = status
        self.body = body


class EmulatorControl:
    """Typed calls to the emulator's control endpoints; `base_url` is the emulator root."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, trust_env=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # State and settings

    async def health(self) -> bool:
        status: JsonValue = await self._call("GET", "/health")
        return bool(status == {"status": "ok"})

    async def reset(self) -> None:
        """Clear orders, payments, refunds, settlements, logs, faults and config changes."""
        await self._call("POST", "/reset")

    async def merchants(self) -> list[MerchantConfig]:
        return [MerchantConfig.model_validate(m) for m in await self._call("GET", "/merchants")]

    async def add_merchant(
        self,
        app_id: str,
        secret_key: str,
        *,
        webhook_urls: list[str] | None = None,
        webhook_version: WebhookVersion = "2025-01-01",
        rate_limit_per_minute: int | None = None,
    ) -> MerchantConfig:
        """Create or replace a merchant."""
        merchant = MerchantConfig(
            app_id=app_id,
            secret_key=secret_key,
            webhook_urls=webhook_urls or [],
            webhook_version=webhook_version,
            rate_limit_per_minute=rate_limit_per_minute,
        )
        return MerchantConfig.model_validate(
            await self._call("PUT", "/merchants", merchant.model_dump(mode="json"))
        )

    async def config(self) -> EmulatorConfig:
        return EmulatorConfig.model_validate(await self._call("GET", "/config"))

    async def configure(
        self,
        *,
        refund_delay_seconds: float | None = None,
        webhook_retry_scale: float | None = None,
        webhook_timeout_seconds: float | None = None,
        service_charge_rate: Amount | None = None,
        auto_settle_seconds: float | None = None,
        refund_lookup_lag_seconds: float | None = None,
        recon_lists_unsettled: bool | None = None,
    ) -> EmulatorConfig:
        """Change runtime settings; arguments left as None are unchanged."""
        changes = {
            "refund_delay_seconds": refund_delay_seconds,
            "webhook_retry_scale": webhook_retry_scale,
            "webhook_timeout_seconds": webhook_timeout_seconds,
            "service_charge_rate": None
            if service_charge_rate is None
            else str(service_charge_rate),
            "auto_settle_seconds": auto_settle_seconds,
            "refund_lookup_lag_seconds": refund_lookup_lag_seconds,
            "recon_lists_unsettled": recon_lists_unsettled,
        }
        body = {name: value for name, value in changes.items() if value is not None}
        return EmulatorConfig.model_validate(await self._call("POST", "/config", body))

    # Faults

    async def fault(self, kind: FaultKind | str, *, count: int = 1, **options: Any) -> Fault:
        """Arm a fault for the next `count` matching calls/webhooks/refunds (see FaultSpec)."""
        spec = FaultSpec(kind=FaultKind(kind), count=count, **options)
        return Fault.model_validate(
            await self._call("POST", "/faults", spec.model_dump(mode="json", exclude_unset=True))
        )

    async def faults(self) -> list[Fault]:
        return [Fault.model_validate(f) for f in await self._call("GET", "/faults")]

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/faults")

    async def fail_next_calls(
        self,
        status: Literal[500, 502, 429] = 500,
        *,
        count: int = 1,
        operation: str | None = None,
        app_id: str | None = None,
        retry_after_seconds: int = 1,
    ) -> Fault:
        kind = {500: FaultKind.API_500, 502: FaultKind.API_502, 429: FaultKind.API_429}[status]
        return await self.fault(
            kind,
            count=count,
            operation=operation,
            app_id=app_id,
            retry_after_seconds=retry_after_seconds,
        )

    async def hold_next_calls(
        self,
        how: Hold,
        seconds: float,
        *,
        count: int = 1,
        operation: str | None = None,
        app_id: str | None = None,
    ) -> Fault:
        """Hold the next `count` calls `seconds` (`HELD_CALLS`): `hang` does not execute them
        and drops the connection, `slow` answers them normally but late, `lose` executes them
        and drops the connection (the response never arrives)."""
        return await self.fault(
            HELD_CALLS[how], count=count, operation=operation, app_id=app_id, seconds=seconds
        )

    async def webhook_fault(
        self,
        kind: Literal[
            "drop",
            "duplicate",
            "delay",
            "out_of_order",
            "bad_signature",
            "stale_timestamp",
            "amount_mismatch",
        ],
        *,
        count: int = 1,
        event_type: str | None = None,
        app_id: str | None = None,
        **options: Any,
    ) -> Fault:
        """E.g. `webhook_fault("duplicate", copies=3)`, `webhook_fault("delay", delay_ms=200)`."""
        return await self.fault(
            f"webhook_{kind}", count=count, event_type=event_type, app_id=app_id, **options
        )

    async def refund_fault(
        self,
        outcome: Literal["stays_pending", "onhold", "cancelled", "failed"],
        *,
        count: int = 1,
        app_id: str | None = None,
    ) -> Fault:
        return await self.fault(f"refund_{outcome}", count=count, app_id=app_id)

    # Payments, refunds, settlements

    async def pay(
        self,
        payment_session_id: str,
        outcome: PaymentOutcome = "SUCCESS",
        *,
        payment_method: str = "upi",
        failure_reason: str | None = None,
        delay_ms: int = 0,
        amount: Amount | None = None,
    ) -> JsonObject:
        """Make a payment attempt as the customer would; returns the PaymentEntity."""
        body: JsonObject = {
            "outcome": outcome,
            "payment_method": payment_method,
            "delay_ms": delay_ms,
            "failure_reason": failure_reason,
            "amount": _decimal(amount),
        }
        return await self._post(f"/checkout/{payment_session_id}", body)

    async def settle(
        self,
        order_id: str,
        status: SettlementStatus = "SUCCESS",
        *,
        short_by: Amount | None = None,
        app_id: str | None = None,
    ) -> JsonObject:
        """Create or move the order's settlement and send SETTLEMENT_<status>; `short_by`
        (rupees) makes a new settlement pay less than its charges explain."""
        body: JsonObject = {"status": status, "short_by": _decimal(short_by)}
        return await self._post(f"/orders/{order_id}/settle", body, app_id=app_id)

    async def settle_together(
        self,
        order_ids: list[str],
        status: SettlementStatus = "SUCCESS",
        *,
        app_id: str | None = None,
    ) -> list[JsonObject]:
        """One settlement (one id and UTR) for several paid orders; sends one SETTLEMENT_<status>
        naming no order."""
        result: list[JsonObject] = await self._call(
            "POST", "/settlements", {"order_ids": list(order_ids), "status": status}, app_id=app_id
        )
        return result

    async def dispute(
        self,
        order_id: str,
        *,
        dispute_type: str = "DISPUTE",
        amount: Amount | None = None,
        respond_within_days: int = 3,
        app_id: str | None = None,
    ) -> JsonObject:
        """The customer disputes the order's payment: sends DISPUTE_CREATED (with respond_by)."""
        body: JsonObject = {
            "dispute_type": dispute_type,
            "respond_within_days": respond_within_days,
            "amount": _decimal(amount),
        }
        return await self._post(f"/orders/{order_id}/disputes", body, app_id=app_id)

    async def move_dispute(
        self, dispute_id: str, status: str, *, app_id: str | None = None
    ) -> JsonObject:
        """Sends DISPUTE_UPDATED, or DISPUTE_CLOSED for a `..._MERCHANT_WON|LOST|ACCEPTED`."""
        return await self._post(f"/disputes/{dispute_id}", {"status": status}, app_id=app_id)

    async def auto_refund(
        self,
        order_id: str,
        *,
        duplicate_payment: bool = True,
        status: Literal["SUCCESS", "FAILED", "PENDING"] = "SUCCESS",
        amount: Amount | None = None,
        reason: str | None = None,
        app_id: str | None = None,
    ) -> JsonObject:
        """A refund Cashfree starts itself; sends AUTO_REFUND_STATUS_WEBHOOK after the delay."""
        body: JsonObject = {
            "duplicate_payment": duplicate_payment,
            "status": status,
            "amount": _decimal(amount),
            "reason": reason,
        }
        return await self._post(f"/orders/{order_id}/auto-refund", body, app_id=app_id)

    async def dashboard_refund(
        self,
        order_id: str,
        refund_amount: Amount,
        *,
        refund_id: str | None = None,
        refund_note: str | None = None,
        resolve_to: RefundResolution = "SUCCESS",
        app_id: str | None = None,
    ) -> JsonObject:
        """A refund made in the merchant dashboard (we never requested it)."""
        body: JsonObject = {
            "refund_amount": Decimal(refund_amount),
            "resolve_to": resolve_to,
            "refund_id": refund_id,
            "refund_note": refund_note,
        }
        return await self._post(f"/orders/{order_id}/refunds", body, app_id=app_id)

    async def resolve_refund(
        self,
        order_id: str,
        refund_id: str,
        status: RefundResolution,
        *,
        contradict: bool = False,
        app_id: str | None = None,
    ) -> JsonObject:
        """Move a PENDING/ONHOLD refund now (sends REFUND_STATUS_WEBHOOK for final states).
        `contradict`: move a FAILED or CANCELLED refund to SUCCESS after all."""
        return await self._post(
            f"/orders/{order_id}/refunds/{refund_id}/resolve",
            {"status": status, "contradict": contradict},
            app_id=app_id,
        )

    async def reverse_refund(
        self, order_id: str, refund_id: str, *, app_id: str | None = None
    ) -> JsonObject:
        """The bank sends a successful refund back: recon shows a REFUND_REVERSAL credit."""
        return await self._post(f"/orders/{order_id}/refunds/{refund_id}/reverse", app_id=app_id)

    async def expire_order(self, order_id: str, *, app_id: str | None = None) -> JsonObject:
        return await self._post(f"/orders/{order_id}/expire", app_id=app_id)

    # Observation

    async def events(
        self,
        *,
        app_id: str | None = None,
        type: str | None = None,
        url: str | None = None,
        outcome: Literal["delivered", "failed", "dropped"] | None = None,
    ) -> list[WebhookAttempt]:
        """Every webhook delivery attempt so far (raw body, headers, response status)."""
        query = {"app_id": app_id, "type": type, "url": url, "outcome": outcome}
        rows = await self._call("GET", "/events", params=query)
        return [WebhookAttempt.model_validate(row) for row in rows]

    async def wait_for_events(
        self,
        count: int = 1,
        *,
        timeout: float = 5.0,
        app_id: str | None = None,
        type: str | None = None,
        url: str | None = None,
        outcome: Literal["delivered", "failed", "dropped"] | None = None,
    ) -> list[WebhookAttempt]:
        """Poll until at least `count` matching attempts exist; TimeoutError otherwise."""
        async with asyncio.timeout(timeout):
            while True:
                found = await self.events(app_id=app_id, type=type, url=url, outcome=outcome)
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.02)

    async def calls(
        self,
        *,
        operation: str | None = None,
        app_id: str | None = None,
        method: str | None = None,
    ) -> list[ApiCall]:
        """API calls that reached the emulator, e.g. `calls(operation="create_refund")`."""
        query = {"operation": operation, "app_id": app_id, "method": method}
        rows = await self._call("GET", "/calls", params=query)
        return [ApiCall.model_validate(row) for row in rows]

    async def _post(
        self, path: str, body: JsonObject | None = None, *, app_id: str | None = None
    ) -> JsonObject:
        """POSTs the body without its None fields (the control API's defaults apply to them);
        returns the JSON object answered."""
        sent = None if body is None else {k: v for k, v in body.items() if v is not None}
        result: JsonObject = await self._call("POST", path, sent, app_id=app_id)
        return result

    async def _call(
        self,
        method: str,
        path: str,
        body: JsonObject | None = None,
        *,
        params: dict[str, str | None] | None = None,
        app_id: str | None = None,
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if app_id is not None:
            query["app_id"] = app_id
        response = await self._http.request(
            method,
            "/_emulator" + path,
            content=None if body is None else dumps(body).encode(),
            headers={"content-type": "application/json"},
            params=query,
        )
        payload = loads(response.content) if response.content else None
        if response.status_code >= 400:
            raise EmulatorControlError(response.status_code, payload)
        return payload
