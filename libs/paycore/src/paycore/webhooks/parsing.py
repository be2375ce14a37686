"""Reading a stored Cashfree webhook by event type and format version, into our own types.

The Cashfree-side models (`paycore.gateway.models`) already tolerate every known variation (ids
as numbers, `"NA"` for missing, unknown statuses); this module only picks the right part of the
envelope and fills the few fields webhooks name differently from the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from paycore.gateway import mapping
from paycore.gateway import models as cf
from paycore.gateway.schemas import GatewayDispute, GatewayPayment, GatewayRefund, GatewaySettlement
from paycore.kit.errors import InvalidAmount, UnknownCurrency
from paycore.money import load_json
from paycore.payments.models import SettlementStatus
from paycore.webhooks.errors import MalformedWebhook, UnsupportedWebhookVersion

# Payload formats whose envelope this code reads (2021-09-21 had another shape). No version
# header: an endpoint configured before versions were sent, the 2023-08-01 shape.
SUPPORTED_VERSIONS: Final[set[str | None]] = {
    None,
    "2022-09-01",
    "2023-08-01",
    "2025-01-01",
    "2026-01-01",
}

PAYMENT_TYPES: Final = frozenset(
    {"PAYMENT_SUCCESS_WEBHOOK", "PAYMENT_FAILED_WEBHOOK", "PAYMENT_USER_DROPPED_WEBHOOK"}
)
REFUND_TYPE: Final = "REFUND_STATUS_WEBHOOK"
DISPUTE_TYPES: Final = frozenset({"DISPUTE_CREATED", "DISPUTE_UPDATED", "DISPUTE_CLOSED"})
AUTO_REFUND_TYPE: Final = "AUTO_REFUND_STATUS_WEBHOOK"
# Settlement events carry no `_WEBHOOK` suffix; the type, not the body, says the stage.
SETTLEMENT_TYPES: Final = {
    "SETTLEMENT_INITIATED": SettlementStatus.PENDING,
    "SETTLEMENT_SUCCESS": SettlementStatus.SETTLED,
    "SETTLEMENT_FAILED": SettlementStatus.FAILED,
    "SETTLEMENT_REVERSED": SettlementStatus.REVERSED,
}


@dataclass(frozen=True)
class PaymentEvent:
    attempt: GatewayPayment


@dataclass(frozen=True)
class RefundEvent:
    refund: GatewayRefund


@dataclass(frozen=True)
class AutoRefundEvent:
    """A refund Cashfree made on its own (duplicate or late payment): no refund id of ours."""

    refund: GatewayRefund
    reason: str | None


@dataclass(frozen=True)
class SettlementEvent:
    settlement: GatewaySettlement
    status: SettlementStatus


@dataclass(frozen=True)
class DisputeEvent:
    dispute: GatewayDispute


@dataclass(frozen=True)
class UnknownEvent:
    event_type: str


WebhookEvent = (
    PaymentEvent | RefundEvent | AutoRefundEvent | SettlementEvent | DisputeEvent | UnknownEvent
)


def order_id_of(event: WebhookEvent) -> str | None:
    """The order the event is about (None for an unknown type or a settlement naming none)."""
    if isinstance(event, PaymentEvent):
        return event.attempt.order_id
    if isinstance(event, RefundEvent | AutoRefundEvent):
        return event.refund.order_id
    if isinstance(event, SettlementEvent):
        return event.settlement.order_id
    if isinstance(event, DisputeEvent):
        return event.dispute.order_id
    return None


def is_known_type(event_type: str) -> bool:
    return (
        event_type in PAYMENT_TYPES
        or event_type in (REFUND_TYPE, AUTO_REFUND_TYPE)
        or event_type in SETTLEMENT_TYPES
        or event_type in DISPUTE_TYPES
    )


def parse_webhook(event_type: str, version: str | None, raw_body: bytes) -> WebhookEvent:
    """The event in our types; `MalformedWebhook` if the body does not fit its type."""
    if not is_known_type(event_type):
        return UnknownEvent(event_type)
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedWebhookVersion(version=version, event_type=event_type)
    try:
        envelope = load_json(raw_body)
        data = _section(envelope, "data")
        if event_type in PAYMENT_TYPES:
            return _payment(data)
        if event_type == REFUND_TYPE:
            return RefundEvent(mapping.refund_from(cf.CfRefund.model_validate(data["refund"])))
        if event_type == AUTO_REFUND_TYPE:
            return _auto_refund(_section(data, "auto_refund"))
        if event_type in DISPUTE_TYPES:
            return DisputeEvent(
                mapping.dispute_from(
                    cf.CfDispute.model_validate(_section(data, "dispute")),
                    cf.CfDisputeOrder.model_validate(_section(data, "order_details")),
                    closed=event_type == "DISPUTE_CLOSED",
                )
            )
        return _settlement(_section(data, "settlement"), SETTLEMENT_TYPES[event_type])
    except (
        ValueError,
        KeyError,
        TypeError,
        ValidationError,
        InvalidAmount,
        UnknownCurrency,
    ) as exc:
        # ValidationError and the money errors are ValueErrors too; named for the reader.
        raise MalformedWebhook(
            f"{event_type} does not match its format: {type(exc).__name__}",
            event_type=event_type,
            error=str(exc)[:300],
        ) from exc


def _section(parent: object, key: str) -> dict[str, Any]:
    if not isinstance(parent, dict) or not isinstance(parent.get(key), dict):
        raise KeyError(f"no object {key!r}")
    section: dict[str, Any] = parent[key]
    return section


def _payment(data: dict[str, Any]) -> PaymentEvent:
    order = _section(data, "order")
    wire = cf.CfPayment.model_validate(
        # The attempt's currency may be missing; the order's is the same money.
        {
            "order_currency": order.get("order_currency"),
            "order_amount": order.get("order_amount"),
            **_section(data, "payment"),
        }
    )
    return PaymentEvent(mapping.payment_from(wire, str(order["order_id"])))


def _auto_refund(data: dict[str, Any]) -> AutoRefundEvent:
    # No merchant refund id: Cashfree's own id stands in for it.
    wire = cf.CfRefund.model_validate({"refund_id": data.get("cf_refund_id"), **data})
    return AutoRefundEvent(mapping.refund_from(wire), data.get("refund_reason"))


def _settlement(data: dict[str, Any], status: SettlementStatus) -> SettlementEvent:
    # The webhook names the settlement's fields differently from the Settlements API.
    renamed = {
        "cf_settlement_id": data.get("settlement_id", data.get("cf_settlement_id")),
        "settlement_utr": data.get("utr", data.get("settlement_utr")),
        "order_amount": data.get("payment_amount", data.get("order_amount")),
        "settlement_amount": data.get("settlement_amount", data.get("amount_settled")),
        "status": None,  # INITIATED is not a Settlements API status; the event type decides
    }
    wire = cf.CfSettlement.model_validate({**data, **renamed})
    return SettlementEvent(mapping.settlement_from(wire), status)
