"""Cashfree's wire format (API 2023-08-01 .. 2026-01-01), read tolerantly.

Cashfree's payloads vary by version and endpoint, so these models ignore unknown fields, turn
numeric ids into strings, read `"null"`/`"NA"` strings as missing, map status values added
after this code to `UNKNOWN` (never final), and keep every amount an exact `Decimal` (bodies
are parsed with `money.load_json`). They never leave `paycore.gateway`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from loguru import logger
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from paycore.gateway.schemas import GatewayReconEventType


def _warn_unknown(kind: str, value: object) -> None:
    logger.bind(enum=kind, value=str(value)[:40]).warning("unknown gateway status")


class _Tolerant(StrEnum):
    @classmethod
    def _missing_(cls, value: object) -> _Tolerant:
        _warn_unknown(cls.__name__, value)
        return cls("UNKNOWN")


class CfOrderStatus(_Tolerant):
    ACTIVE = "ACTIVE"
    PAID = "PAID"
    EXPIRED = "EXPIRED"
    TERMINATED = "TERMINATED"
    TERMINATION_REQUESTED = "TERMINATION_REQUESTED"
    UNKNOWN = "UNKNOWN"


class CfPaymentStatus(_Tolerant):
    SUCCESS = "SUCCESS"
    NOT_ATTEMPTED = "NOT_ATTEMPTED"
    FAILED = "FAILED"
    USER_DROPPED = "USER_DROPPED"
    VOID = "VOID"
    CANCELLED = "CANCELLED"
    PENDING = "PENDING"
    UNKNOWN = "UNKNOWN"


class CfRefundStatus(_Tolerant):
    SUCCESS = "SUCCESS"
    PENDING = "PENDING"
    CANCELLED = "CANCELLED"
    ONHOLD = "ONHOLD"
    FAILED = "FAILED"  # in the field description, not the enum: the official SDK rejects it
    UNKNOWN = "UNKNOWN"


class CfSettlementStatus(_Tolerant):
    SUCCESS = "SUCCESS"
    PENDING = "PENDING"
    PENDING_WITH_CASHFREE = "PENDING_WITH_CASHFREE"
    PENDING_WITH_BANK = "PENDING_WITH_BANK"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"


class CfReconEventStatus(_Tolerant):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    PENDING = "PENDING"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"


def _id_as_string(value: object) -> object:
    # API 2022-09-01 and some webhook samples send ids as numbers.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return value


def _missing_marker_as_none(value: object) -> object:
    # Samples show `"auth_id": "null"` and `"bank_reference": "NA"`.
    if isinstance(value, str) and value.strip().lower() in {"", "null", "na", "none"}:
        return None
    return _id_as_string(value)


def _lenient_datetime(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    # A timestamp we cannot read must not make a payment's status unreadable.
    if value is None:
        return None
    try:
        return handler(value)
    except ValidationError:
        logger.bind(value=str(value)[:40]).warning("unreadable gateway timestamp")
        return None


# Our recon event types by the names Cashfree gives them: the same, but OTHER_ADJUSTMENT.
_RECON_EVENT_TYPES: dict[str, GatewayReconEventType] = {
    "OTHER_ADJUSTMENT" if kind is GatewayReconEventType.ADJUSTMENT else kind.value: kind
    for kind in GatewayReconEventType
}


def _recon_event_type(value: object) -> GatewayReconEventType:
    kind = _RECON_EVENT_TYPES.get(value) if isinstance(value, str) else None
    if kind is None:
        _warn_unknown("CfReconEventType", value)
        return GatewayReconEventType.UNKNOWN
    return kind


CfId = Annotated[str, BeforeValidator(_id_as_string)]
OptionalText = Annotated[str | None, BeforeValidator(_missing_marker_as_none)]
LenientDatetime = Annotated[datetime | None, WrapValidator(_lenient_datetime)]
CfReconEventType = Annotated[GatewayReconEventType, BeforeValidator(_recon_event_type)]


class CfModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- requests -------------------------------------------------------------------------------


class CfCustomerDetails(CfModel):
    customer_id: str
    customer_phone: str
    customer_email: str | None = None
    customer_name: str | None = None


class CfOrderMeta(CfModel):
    return_url: str | None = None
    notify_url: str | None = None


class CfCreateOrderRequest(CfModel):
    order_id: str
    order_amount: Decimal
    order_currency: str
    customer_details: CfCustomerDetails
    order_meta: CfOrderMeta | None = None
    order_expiry_time: str | None = None  # ISO-8601 with offset
    order_note: str | None = None
    order_tags: dict[str, str] | None = None


class CfCreateRefundRequest(CfModel):
    refund_id: str
    refund_amount: Decimal
    refund_note: str | None = None
    refund_speed: str | None = None


class CfTerminateOrderRequest(CfModel):
    order_status: str = "TERMINATED"


class CfPagination(CfModel):
    limit: int
    cursor: str | None = None


class CfSettlementFilters(CfModel):
    cf_settlement_ids: list[str] | None = None
    settlement_utrs: list[str] | None = None
    start_date: str | None = None
    end_date: str | None = None


class CfSettlementsRequest(CfModel):
    pagination: CfPagination
    filters: CfSettlementFilters


class CfReconFilters(CfModel):
    start_date: str
    end_date: str


class CfReconRequest(CfModel):
    pagination: CfPagination
    filters: CfReconFilters


# --- responses ------------------------------------------------------------------------------


class CfError(CfModel):
    message: str | None = None
    code: str | None = None
    type: str | None = None


class CfOrder(CfModel):
    cf_order_id: CfId | None = None
    order_id: CfId
    order_amount: Decimal
    order_currency: str
    order_status: CfOrderStatus
    payment_session_id: str | None = None
    order_expiry_time: LenientDatetime = None
    created_at: LenientDatetime = None


class CfErrorDetails(CfModel):
    error_code: OptionalText = None
    error_description: OptionalText = None
    error_reason: OptionalText = None
    error_source: OptionalText = None


class CfPayment(CfModel):
    cf_payment_id: CfId
    order_id: CfId | None = None
    payment_status: CfPaymentStatus
    payment_amount: Decimal
    payment_currency: str | None = None
    # What the order asked; differs from payment_amount with a surcharge or an offer.
    order_amount: Decimal | None = None
    order_currency: str | None = None
    is_captured: bool | None = None
    payment_message: OptionalText = None
    bank_reference: OptionalText = None
    auth_id: OptionalText = None
    payment_group: OptionalText = None
    payment_method: dict[str, Any] | None = None  # exactly one key: "upi", "card", ...
    payment_time: LenientDatetime = None
    payment_completion_time: LenientDatetime = None
    error_details: CfErrorDetails | None = None


class CfRefundSpeed(CfModel):
    requested: OptionalText = None
    accepted: OptionalText = None
    processed: OptionalText = None
    message: OptionalText = None


class CfDispute(CfModel):
    """`data.dispute` of a DISPUTE_* webhook (the status list is UNCONFIRMED: kept as text)."""

    dispute_id: CfId
    dispute_type: OptionalText = None
    reason_code: OptionalText = None
    reason_description: OptionalText = None
    dispute_amount: Decimal
    created_at: LenientDatetime = None
    updated_at: LenientDatetime = None
    respond_by: LenientDatetime = None
    dispute_status: str
    dispute_action_on: OptionalText = None


class CfDisputeOrder(CfModel):
    """`data.order_details` of a DISPUTE_* webhook."""

    order_id: CfId
    order_amount: Decimal | None = None
    order_currency: str | None = None
    cf_payment_id: CfId | None = None
    payment_amount: Decimal | None = None
    payment_currency: str | None = None


class CfRefund(CfModel):
    cf_refund_id: CfId | None = None
    cf_payment_id: CfId | None = None
    refund_id: CfId
    order_id: CfId
    refund_amount: Decimal
    refund_currency: str
    refund_status: CfRefundStatus
    status_description: OptionalText = None
    refund_arn: OptionalText = None
    refund_note: OptionalText = None
    # An object `{requested, accepted, processed, message}`, though requests send a string.
    refund_speed: CfRefundSpeed | None = None
    created_at: LenientDatetime = None
    processed_at: LenientDatetime = None

    @field_validator("refund_speed", mode="before")
    @classmethod
    def _speed_as_object(cls, value: object) -> object:
        return {"requested": value} if isinstance(value, str) else value


# Nested (2026-01-01) keys that mean the same as a flat (2023-08-01) one.
_NESTED_RENAMES: dict[str, str] = {"utr": "settlement_utr"}


def _flatten(data: object, sections: tuple[str, ...]) -> object:
    """Merges 2026-01-01 nested sections (`settlement_details`, ...) into the flat shape."""
    if not isinstance(data, dict) or not any(isinstance(data.get(s), dict) for s in sections):
        return data
    flat: dict[str, Any] = {k: v for k, v in data.items() if k not in sections}
    for section in sections:
        nested = data.get(section)
        if isinstance(nested, dict):
            for key, value in nested.items():
                flat.setdefault(_NESTED_RENAMES.get(str(key), str(key)), value)
    return flat


class CfSettlement(CfModel):
    cf_settlement_id: CfId | None = None
    cf_payment_id: CfId | None = None
    order_id: CfId | None = None
    settlement_currency: str | None = None
    order_currency: str | None = None
    status: CfSettlementStatus | None = None
    order_amount: Decimal | None = None
    service_charge: Decimal | None = None
    service_tax: Decimal | None = None
    settlement_amount: Decimal | None = None
    transfer_utr: OptionalText = None
    settlement_utr: OptionalText = None
    transfer_time: LenientDatetime = None
    settled_on: LenientDatetime = None
    settlement_processed_on: LenientDatetime = None

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: object) -> object:
        return _flatten(data, ("settlement_details", "payment_details", "order_details"))


def _as_page(data: object) -> object:
    # The spec declares one object; the request is paginated; newer docs show a list.
    if isinstance(data, list):
        return {"data": data}
    if isinstance(data, dict) and "data" not in data:
        return {"data": [data] if data else []}
    if isinstance(data, dict) and data.get("data") is None:
        return {**data, "data": []}
    return data


class CfSettlementPage(CfModel):
    data: list[CfSettlement]
    cursor: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _page(cls, data: object) -> object:
        return _as_page(data)


class CfReconItem(CfModel):
    event_id: CfId | None = None
    event_type: CfReconEventType = GatewayReconEventType.UNKNOWN
    event_status: CfReconEventStatus = CfReconEventStatus.UNKNOWN
    sale_type: OptionalText = None  # CREDIT or DEBIT
    event_amount: Decimal | None = None
    event_settlement_amount: Decimal | None = None
    event_currency: str | None = None
    order_currency: str | None = None
    event_time: LenientDatetime = None
    order_id: CfId | None = None
    cf_payment_id: CfId | None = None
    refund_id: CfId | None = None
    cf_settlement_id: CfId | None = None
    settlement_utr: OptionalText = None

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: object) -> object:
        return _flatten(
            data,
            (
                "event_details",
                "order_details",
                "payment_details",
                "settlement_details",
                "refund_details",
            ),
        )


class CfReconPage(CfModel):
    data: list[CfReconItem]
    cursor: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _page(cls, data: object) -> object:
        return _as_page(data)
