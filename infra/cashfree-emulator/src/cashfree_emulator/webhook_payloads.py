"""Webhook bodies per event type and webhook version, shaped like the fact sheet §7 samples."""

from decimal import ROUND_HALF_UP, Decimal

from cashfree_emulator.entities import gateway_details
from cashfree_emulator.records import Dispute, Order, Payment, Refund, Settlement
from cashfree_emulator.wire import (
    TWO_PLACES,
    JsonObject,
    JsonValue,
    iso,
    money,
    now_ist,
    plain_time,
)

LATEST = "2025-01-01"

PAYMENT_EVENT_BY_STATUS = {
    "SUCCESS": "PAYMENT_SUCCESS_WEBHOOK",
    "FAILED": "PAYMENT_FAILED_WEBHOOK",
    "USER_DROPPED": "PAYMENT_USER_DROPPED_WEBHOOK",
}


def envelope(event_type: str, data: JsonObject) -> JsonObject:
    return {"data": data, "event_time": iso(now_ist()), "type": event_type}


def payment_event(version: str, order: Order, payment: Payment) -> JsonObject:
    latest = version == LATEST
    method = payment.payment_method
    if not latest and "upi" in method:
        # 2023-08-01 has the UPI object without the payer account fields.
        upi = method["upi"]
        method = {"upi": {"channel": upi.get("channel"), "upi_id": upi.get("upi_id")}}
    payment_part: JsonObject = {
        "cf_payment_id": payment.cf_payment_id,
        "payment_status": payment.status,
        "payment_amount": payment.amount,
        "payment_currency": payment.currency,
        "payment_message": payment.payment_message,
        "payment_time": iso(payment.payment_time),
        "bank_reference": payment.bank_reference,
        "auth_id": payment.auth_id,
        "payment_method": method,
        "payment_group": payment.payment_group,
    }
    # Paid more than the order asked: a surcharge the customer paid (charge + 18 % GST); less:
    # an offer paid the rest (docs sample: order_amount 2, payment_amount 1, discount 1).
    difference = payment.amount - order.amount
    if latest:
        payment_part["international_payment"] = {"international": False}
        payment_part["payment_surcharge"] = _surcharge(difference) if difference > 0 else None
    data: JsonObject = {
        "order": {
            "order_id": order.order_id,
            "order_amount": order.amount,
            "order_currency": order.currency,
            "order_tags": order.order_tags,
        },
        "payment": payment_part,
        "customer_details": {
            "customer_name": order.customer_details.get("customer_name"),
            "customer_id": order.customer_details.get("customer_id"),
            "customer_email": order.customer_details.get("customer_email"),
            "customer_phone": order.customer_details.get("customer_phone"),
        },
    }
    if payment.status != "USER_DROPPED":
        data["payment_gateway_details"] = gateway_details(payment)
        data["payment_offers"] = (
            _offers(-difference) if difference < 0 and payment.status == "SUCCESS" else None
        )
    if payment.status == "FAILED":
        data["error_details"] = payment.error_details
    if latest:
        data["terminal_details"] = None
    return envelope(PAYMENT_EVENT_BY_STATUS[payment.status], data)


def _surcharge(amount: Decimal) -> JsonObject:
    charge = (amount / Decimal("1.18")).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
    return {
        "payment_surcharge_service_charge": charge,
        "payment_surcharge_service_tax": amount - charge,
    }


def _offers(discount: Decimal) -> list[JsonValue]:
    return [
        {
            "offer_id": "0f05e1d0-fbb7-4d1a-9a4f-emulator",
            "offer_type": "DISCOUNT",
            "offer_meta": {"offer_title": "emulator offer", "offer_description": "discount"},
            "offer_redemption": {
                "redemption_status": "SUCCESS",
                "discount_amount": discount,
                "cashback_amount": money(0),
            },
        }
    ]


def refund_event(version: str, refund: Refund) -> JsonObject:
    # The sample carries the IDs as numbers, unlike the API's strings.
    data: JsonObject = {
        "cf_refund_id": int(refund.cf_refund_id),
        "cf_payment_id": int(refund.cf_payment_id),
        "refund_id": refund.refund_id,
        "order_id": refund.order_id,
        "refund_amount": refund.amount,
        "refund_currency": refund.currency,
        "entity": "Refund",
        "refund_type": refund.refund_type,
        "refund_arn": refund.refund_arn,
        "refund_status": refund.status,
        "status_description": refund.status_description,
        "created_at": iso(refund.created_at),
        "processed_at": iso(refund.processed_at),
        "refund_note": refund.note,
        "refund_splits": refund.refund_splits,
        "metadata": None,
    }
    if version == LATEST:
        speed = refund.requested_speed
        data["requested_speed"] = speed
        data["processed_speed"] = speed if refund.processed_at else None
        data["service_charge"] = money(0)
        data["service_tax"] = money(0)
        data["forex_conversion_handling_charge"] = None
        data["forex_conversion_handling_tax"] = None
    else:
        data["refund_charge"] = money(0)
        data["refund_mode"] = refund.requested_speed
    return envelope("REFUND_STATUS_WEBHOOK", {"refund": data})


def dispute_event(event_type: str, dispute: Dispute, order: Order) -> JsonObject:
    """DISPUTE_CREATED | DISPUTE_UPDATED | DISPUTE_CLOSED, shaped as the docs' sample."""
    data: JsonObject = {
        "dispute": {
            "dispute_id": dispute.dispute_id,
            "dispute_type": dispute.dispute_type,
            "reason_code": dispute.reason_code,
            "reason_description": dispute.reason_description,
            "dispute_amount": dispute.amount,
            "created_at": iso(dispute.created_at),
            "updated_at": iso(dispute.updated_at),
            "respond_by": iso(dispute.respond_by),
            "dispute_status": dispute.status,
            "cf_dispute_remarks": "raised by the customer's bank",
            "dispute_action_on": "MERCHANT",
        },
        "order_details": {
            "order_id": order.order_id,
            "order_amount": order.amount,
            "order_currency": order.currency,
            "cf_payment_id": int(dispute.cf_payment_id),
            "payment_amount": dispute.amount,
            "payment_currency": dispute.currency,
        },
        "customer_details": {
            "customer_name": order.customer_details.get("customer_name"),
            "customer_phone": order.customer_details.get("customer_phone"),
            "customer_email": order.customer_details.get("customer_email"),
        },
    }
    return envelope(event_type, data)


def auto_refund_event(refund: Refund, payment: Payment) -> JsonObject:
    data: JsonObject = {
        "event": "AUTO-REFUND",
        "cf_refund_id": int(refund.cf_refund_id),
        "cf_payment_id": refund.cf_payment_id,
        "bank_reference": payment.bank_reference,
        "order_id": refund.order_id,
        "refund_amount": refund.amount,
        "refund_currency": refund.currency,
        "refund_type": refund.refund_type,
        "refund_arn": refund.refund_arn,
        "refund_status": refund.status,
        "status_description": refund.status_description,
        "refund_reason": refund.reason,
        "created_at": iso(refund.created_at),
        "processed_at": iso(refund.processed_at),
        "refund_charge": money(0),
        "refund_splits": None,
        "metadata": None,
    }
    return envelope("AUTO_REFUND_STATUS_WEBHOOK", {"auto_refund": data})


def settlement_event(settlement: Settlement) -> JsonObject:
    data: JsonObject = {
        "adjustment": money(0),
        "amount_settled": settlement.settlement_amount,
        "payment_amount": settlement.payment_amount,
        "payment_from": plain_time(settlement.payment_time),
        "payment_till": plain_time(settlement.payment_time),
        "reason": "Settlement failed at the bank" if settlement.status == "FAILED" else None,
        "service_charge": settlement.service_charge,
        "service_tax": settlement.service_tax,
        "settled_on": iso(settlement.settled_on),
        "settlement_type": "STANDARD",
        "settlement_amount": settlement.settlement_amount,
        "settlement_id": settlement.cf_settlement_id,
        "settlement_initiated_on": iso(settlement.initiated_on),
        "status": settlement.status,
        "utr": int(settlement.utr),
        "settlement_charge": money(0),
        "settlement_tax": money(0),
        "remarks": None,
    }
    return envelope(f"SETTLEMENT_{settlement.status}", {"settlement": data})
