"""API entities (fact sheet §2–§5) rendered from records. IDs are strings (≥ 2023-08-01)."""

from decimal import Decimal

from cashfree_emulator.records import Order, Payment, Refund, Settlement
from cashfree_emulator.wire import JsonObject, iso, money

_CUSTOMER_FIELDS = (
    "customer_id",
    "customer_email",
    "customer_phone",
    "customer_name",
    "customer_bank_account_number",
    "customer_bank_ifsc",
    "customer_bank_code",
    "customer_uid",
)
_ORDER_META_FIELDS = ("return_url", "notify_url", "payment_methods")


def order_entity(order: Order) -> JsonObject:
    return {
        "cf_order_id": order.cf_order_id,
        "created_at": iso(order.created_at),
        "customer_details": {name: order.customer_details.get(name) for name in _CUSTOMER_FIELDS},
        "entity": "order",
        "order_amount": order.amount,
        "order_currency": order.currency,
        "order_expiry_time": iso(order.expires_at),
        "order_id": order.order_id,
        "order_meta": {name: order.order_meta.get(name) for name in _ORDER_META_FIELDS},
        "order_note": order.order_note,
        "order_splits": order.order_splits,
        "order_status": order.status,
        "order_tags": order.order_tags,
        "payment_session_id": order.payment_session_id,
        "terminal_data": None,
        "cart_details": None,
    }


def gateway_details(payment: Payment) -> JsonObject:
    return {
        "gateway_name": "CASHFREE",
        "gateway_order_id": payment.order_id,
        "gateway_payment_id": payment.cf_payment_id,
        "gateway_order_reference_id": None,
        "gateway_status_code": None,
        "gateway_settlement": "CASHFREE",
        "gateway_reference_name": None,
    }


def payment_entity(payment: Payment, order: Order) -> JsonObject:
    return {
        "cf_payment_id": payment.cf_payment_id,
        "order_id": payment.order_id,
        "entity": "payment",
        "error_details": payment.error_details,
        "is_captured": payment.status == "SUCCESS",
        "order_amount": order.amount,
        "order_currency": order.currency,
        "payment_amount": payment.amount,
        "payment_currency": payment.currency,
        "payment_status": payment.status,
        "payment_message": payment.payment_message,
        "payment_time": iso(payment.payment_time),
        "payment_completion_time": iso(payment.completion_time),
        "bank_reference": payment.bank_reference,
        "auth_id": payment.auth_id,
        "authorization": None,
        "payment_group": payment.payment_group,
        "payment_method": payment.payment_method,
        "international_payment": {"international": False},
        "payment_gateway_details": gateway_details(payment),
        "payment_surcharge": None,
        "payment_offers": None,
    }


def refund_entity(refund: Refund) -> JsonObject:
    processed = refund.processed_at is not None
    return {
        "cf_payment_id": refund.cf_payment_id,
        "cf_refund_id": refund.cf_refund_id,
        "order_id": refund.order_id,
        "refund_id": refund.refund_id,
        "entity": "refund",
        "refund_amount": refund.amount,
        "refund_currency": refund.currency,
        "refund_note": refund.note,
        "refund_status": refund.status,
        "refund_arn": refund.refund_arn,
        "refund_charge": money(0),
        "status_description": refund.status_description,
        "metadata": None,
        "refund_splits": refund.refund_splits,
        "refund_type": refund.refund_type,
        "refund_mode": refund.requested_speed,
        "created_at": iso(refund.created_at),
        "processed_at": iso(refund.processed_at),
        # An object in responses although the request sends a plain string (fact sheet §4).
        "refund_speed": {
            "requested": refund.requested_speed,
            "accepted": refund.requested_speed,
            "processed": refund.requested_speed if processed else None,
            "message": None,
        },
        "forex_conversion_handling_charge": None,
        "forex_conversion_handling_tax": None,
    }


def settlement_entity(settlement: Settlement) -> JsonObject:
    settled = settlement.settled_on is not None
    return {
        "cf_payment_id": settlement.cf_payment_id,
        "cf_settlement_id": str(settlement.cf_settlement_id),
        "settlement_currency": settlement.currency,
        "order_id": settlement.order_id,
        "entity": "settlement",
        "order_amount": settlement.order_amount,
        "payment_time": iso(settlement.payment_time),
        "service_charge": settlement.service_charge,
        "service_tax": settlement.service_tax,
        "settlement_amount": settlement.settlement_amount,
        "settlement_id": settlement.cf_settlement_id,
        "transfer_id": settlement.transfer_id,
        "transfer_time": iso(settlement.settled_on) if settled else None,
        "transfer_utr": settlement.utr if settled else None,
        "forex_conversion_handling_charge": None,
        "forex_conversion_handling_tax": None,
        "forex_conversion_rate": None,
        "charges_currency": settlement.currency,
    }


def refunded_total(refunds: list[Refund], cf_payment_id: str) -> Decimal:
    """What is refunded or on its way back: every refund of the payment not CANCELLED/FAILED."""
    return sum(
        (
            r.amount
            for r in refunds
            if r.cf_payment_id == cf_payment_id and r.status not in {"CANCELLED", "FAILED"}
        ),
        Decimal(0),
    )
