"""Contracts of the `/_emulator/` control API, shared by the server and `EmulatorControl`."""

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WebhookVersion = Literal["2025-01-01", "2023-08-01"]
PaymentOutcome = Literal["SUCCESS", "FAILED", "USER_DROPPED"]
RefundResolution = Literal["SUCCESS", "FAILED", "CANCELLED", "ONHOLD", "PENDING"]
SettlementStatus = Literal["INITIATED", "SUCCESS", "FAILED", "REVERSED"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MerchantConfig(_Strict):
    app_id: str = Field(min_length=1)
    secret_key: str = Field(min_length=1)
    webhook_urls: list[str] = []
    webhook_version: WebhookVersion = "2025-01-01"
    # None: no limit is enforced (headers still report a high one).
    rate_limit_per_minute: int | None = Field(default=None, ge=1)


class EmulatorConfig(_Strict):
    refund_delay_seconds: float = Field(default=1.0, ge=0)
    # Multiplies Cashfree's redelivery schedule of 2, 10 and 30 minutes.
    webhook_retry_scale: float = Field(default=1.0, ge=0)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    service_charge_rate: Decimal = Field(default=Decimal("0.02"), ge=0, lt=1)
    # None: settlements only come from `POST /_emulator/orders/{id}/settle`.
    auto_settle_seconds: float | None = Field(default=None, ge=0)
    # Get Refund answers 404 for this long after the refund was created (a lookup that lags
    # its create: reads are eventually consistent).
    refund_lookup_lag_seconds: float = Field(default=0.0, ge=0)
    # PG recon (`POST /recon`) also lists captures not settled yet: the wider reading of
    # Cashfree's docs, which leave it open (fact sheet §5); off, only settled events.
    recon_lists_unsettled: bool = False


class FaultKind(StrEnum):
    API_500 = "api_500"
    API_502 = "api_502"
    API_429 = "api_429"
    API_TIMEOUT = "api_timeout"
    API_SLOW = "api_slow"  # executed and answered normally, `seconds` late
    RESPONSE_LOST = "response_lost"
    WEBHOOK_DROP = "webhook_drop"
    WEBHOOK_DUPLICATE = "webhook_duplicate"
    WEBHOOK_DELAY = "webhook_delay"
    WEBHOOK_OUT_OF_ORDER = "webhook_out_of_order"
    WEBHOOK_BAD_SIGNATURE = "webhook_bad_signature"
    WEBHOOK_STALE_TIMESTAMP = "webhook_stale_timestamp"
    WEBHOOK_AMOUNT_MISMATCH = "webhook_amount_mismatch"
    REFUND_STAYS_PENDING = "refund_stays_pending"
    REFUND_ONHOLD = "refund_onhold"
    REFUND_CANCELLED = "refund_cancelled"
    REFUND_FAILED = "refund_failed"

    @property
    def family(self) -> Literal["api", "webhook", "refund"]:
        if self.value.startswith("webhook_"):
            return "webhook"
        if self.value.startswith("refund_"):
            return "refund"
        return "api"


class FaultSpec(_Strict):
    kind: FaultKind
    count: int = Field(default=1, ge=1)
    app_id: str | None = None
    # API faults: only calls of this operation (create_order, create_refund, get_order, ...).
    operation: str | None = None
    # Webhook faults: only events of this type (PAYMENT_SUCCESS_WEBHOOK, ...).
    event_type: str | None = None
    # api_timeout / response_lost: how long the connection is held before it is dropped;
    # api_slow: how long the call waits before it is executed and answered.
    seconds: float = Field(default=30.0, ge=0)
    retry_after_seconds: int = Field(default=1, ge=1, le=59)
    copies: int = Field(default=2, ge=2)
    delay_ms: int = Field(default=1000, ge=0)
    age_seconds: int = Field(default=3600, ge=0)
    amount_delta: Decimal = Decimal("1.00")
    # webhook_out_of_order: released when the following webhook is sent, or after this.
    hold_timeout_seconds: float = Field(default=10.0, gt=0)


class Fault(FaultSpec):
    id: int
    remaining: int


class PayRequest(_Strict):
    outcome: PaymentOutcome = "SUCCESS"
    payment_method: str = "upi"
    failure_reason: str | None = None
    # The attempt stays PENDING this long before reaching its outcome (and its webhook).
    delay_ms: int = Field(default=0, ge=0)
    # Paid amount when it should differ from the order amount.
    amount: Decimal | None = Field(default=None, gt=0)


class SettleRequest(_Strict):
    status: SettlementStatus = "SUCCESS"
    # A settlement short of what its charges explain (rupees): settlement_amount is
    # payment_amount - service_charge - service_tax - short_by, a break for reconciliation.
    short_by: Decimal = Field(default=Decimal(0), ge=0)


class DisputeRequest(_Strict):
    dispute_type: Literal[
        "DISPUTE", "CHARGEBACK", "RETRIEVAL", "PRE_ARBITRATION", "ARBITRATION"
    ] = "DISPUTE"
    amount: Decimal | None = Field(default=None, gt=0)
    respond_within_days: int = Field(default=3, ge=0)


class MoveDisputeRequest(_Strict):
    status: str = Field(min_length=3, max_length=60)


class SettleOrdersRequest(_Strict):
    order_ids: list[str] = Field(min_length=1)
    status: SettlementStatus = "SUCCESS"


class AutoRefundRequest(_Strict):
    # True: first record a second successful payment on the order, then auto-refund it
    # (Cashfree's "multiple payments against the same order" case).
    duplicate_payment: bool = True
    status: Literal["SUCCESS", "FAILED", "PENDING"] = "SUCCESS"
    amount: Decimal | None = Field(default=None, gt=0)
    reason: str = "Multiple payments were performed against same order."


class DashboardRefundRequest(_Strict):
    refund_amount: Decimal = Field(gt=0)
    refund_id: str | None = None
    refund_note: str | None = None
    resolve_to: RefundResolution = "SUCCESS"


class ResolveRefundRequest(_Strict):
    status: RefundResolution
    # Move a refund already FAILED or CANCELLED to SUCCESS: Cashfree's records contradicting
    # an answer it gave before (the money left after all).
    contradict: bool = False


class WebhookAttempt(BaseModel):
    id: int
    app_id: str
    event_type: str
    url: str
    attempt: int
    headers: dict[str, str]
    body: str
    status_code: int | None
    error: str | None
    outcome: Literal["delivered", "failed", "dropped"]
    fault: str | None
    sent_at: str


class ApiCall(BaseModel):
    id: int
    app_id: str | None
    method: str
    path: str
    operation: str
    idempotency_key: str | None
    request_id: str | None
    status: int | None
    replayed: bool
    fault: str | None
    body: str
    at: str
