"""Translation between our types (`schemas`) and Cashfree's wire format (`models`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from paycore.gateway import models as cf
from paycore.gateway.schemas import (
    GatewayAttemptError,
    GatewayAttemptStatus,
    GatewayDispute,
    GatewayDisputeOutcome,
    GatewayOrder,
    GatewayOrderRequest,
    GatewayOrderStatus,
    GatewayPayment,
    GatewayReconEntry,
    GatewayReconEventStatus,
    GatewayReconEventType,
    GatewayReconPage,
    GatewayReconQuery,
    GatewayRefund,
    GatewayRefundRequest,
    GatewayRefundStatus,
    GatewaySettlement,
    GatewaySettlementPage,
    GatewaySettlementQuery,
    GatewaySettlementStatus,
)
from paycore.money import to_major, to_minor

# Cashfree settles in INR; a settlement or recon row without a currency is INR.
_SETTLEMENT_CURRENCY: Final = "INR"

ORDER_STATUSES: Final = {
    cf.CfOrderStatus.ACTIVE: GatewayOrderStatus.OPEN,
    cf.CfOrderStatus.PAID: GatewayOrderStatus.PAID,
    cf.CfOrderStatus.EXPIRED: GatewayOrderStatus.EXPIRED,
    cf.CfOrderStatus.TERMINATED: GatewayOrderStatus.TERMINATED,
    cf.CfOrderStatus.TERMINATION_REQUESTED: GatewayOrderStatus.TERMINATING,
    cf.CfOrderStatus.UNKNOWN: GatewayOrderStatus.UNKNOWN,
}

ATTEMPT_STATUSES: Final = {
    cf.CfPaymentStatus.SUCCESS: GatewayAttemptStatus.SUCCEEDED,
    cf.CfPaymentStatus.PENDING: GatewayAttemptStatus.PENDING,
    cf.CfPaymentStatus.NOT_ATTEMPTED: GatewayAttemptStatus.NOT_ATTEMPTED,
    cf.CfPaymentStatus.FAILED: GatewayAttemptStatus.FAILED,
    cf.CfPaymentStatus.USER_DROPPED: GatewayAttemptStatus.ABANDONED,
    cf.CfPaymentStatus.VOID: GatewayAttemptStatus.VOIDED,
    cf.CfPaymentStatus.CANCELLED: GatewayAttemptStatus.CANCELLED,
    cf.CfPaymentStatus.UNKNOWN: GatewayAttemptStatus.UNKNOWN,
}

REFUND_STATUSES: Final = {
    cf.CfRefundStatus.PENDING: GatewayRefundStatus.PENDING,
    cf.CfRefundStatus.ONHOLD: GatewayRefundStatus.ON_HOLD,
    cf.CfRefundStatus.SUCCESS: GatewayRefundStatus.SUCCEEDED,
    cf.CfRefundStatus.FAILED: GatewayRefundStatus.FAILED,
    cf.CfRefundStatus.CANCELLED: GatewayRefundStatus.CANCELLED,
    cf.CfRefundStatus.UNKNOWN: GatewayRefundStatus.UNKNOWN,
}

SETTLEMENT_STATUSES: Final = {
    cf.CfSettlementStatus.SUCCESS: GatewaySettlementStatus.SETTLED,
    cf.CfSettlementStatus.PENDING: GatewaySettlementStatus.PENDING,
    cf.CfSettlementStatus.PENDING_WITH_CASHFREE: GatewaySettlementStatus.PENDING,
    cf.CfSettlementStatus.PENDING_WITH_BANK: GatewaySettlementStatus.PENDING,
    cf.CfSettlementStatus.FAILED: GatewaySettlementStatus.FAILED,
    cf.CfSettlementStatus.UNKNOWN: GatewaySettlementStatus.UNKNOWN,
}

RECON_EVENT_TYPES: Final = {
    cf.CfReconEventType.PAYMENT: GatewayReconEventType.PAYMENT,
    cf.CfReconEventType.REFUND: GatewayReconEventType.REFUND,
    cf.CfReconEventType.REFUND_REVERSAL: GatewayReconEventType.REFUND_REVERSAL,
    cf.CfReconEventType.DISPUTE: GatewayReconEventType.DISPUTE,
    cf.CfReconEventType.DISPUTE_REVERSAL: GatewayReconEventType.DISPUTE_REVERSAL,
    cf.CfReconEventType.CHARGEBACK: GatewayReconEventType.CHARGEBACK,
    cf.CfReconEventType.CHARGEBACK_REVERSAL: GatewayReconEventType.CHARGEBACK_REVERSAL,
    cf.CfReconEventType.OTHER_ADJUSTMENT: GatewayReconEventType.ADJUSTMENT,
    cf.CfReconEventType.SETTLEMENT: GatewayReconEventType.SETTLEMENT,
    cf.CfReconEventType.UNKNOWN: GatewayReconEventType.UNKNOWN,
}

RECON_EVENT_STATUSES: Final = {
    cf.CfReconEventStatus.SUCCESS: GatewayReconEventStatus.SUCCEEDED,
    cf.CfReconEventStatus.PENDING: GatewayReconEventStatus.PENDING,
    cf.CfReconEventStatus.FAILED: GatewayReconEventStatus.FAILED,
    cf.CfReconEventStatus.CANCELLED: GatewayReconEventStatus.CANCELLED,
    cf.CfReconEventStatus.UNKNOWN: GatewayReconEventStatus.UNKNOWN,
}


def _iso(moment: datetime) -> str:
    # A naive datetime is taken as UTC, the only zone our code stores.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.isoformat(timespec="seconds")


def _utc_z(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minor(amount: Decimal | None, currency: str) -> int | None:
    return None if amount is None else to_minor(amount, currency)


def order_request_body(request: GatewayOrderRequest) -> cf.CfCreateOrderRequest:
    meta = None
    if request.return_url or request.notify_url:
        meta = cf.CfOrderMeta(return_url=request.return_url, notify_url=request.notify_url)
    return cf.CfCreateOrderRequest(
        order_id=request.order_id,
        order_amount=to_major(request.amount_minor, request.currency),
        order_currency=request.currency,
        customer_details=cf.CfCustomerDetails(
            customer_id=request.customer.customer_id,
            customer_phone=request.customer.phone,
            customer_email=request.customer.email,
            customer_name=request.customer.name,
        ),
        order_meta=meta,
        order_expiry_time=_iso(request.expires_at) if request.expires_at else None,
        order_note=request.note,
        order_tags=request.tags or None,
    )


def refund_request_body(request: GatewayRefundRequest) -> cf.CfCreateRefundRequest:
    return cf.CfCreateRefundRequest(
        refund_id=request.refund_id,
        refund_amount=to_major(request.amount_minor, request.currency),
        refund_note=request.note,
        refund_speed=request.speed.value,
    )


def settlements_request_body(query: GatewaySettlementQuery) -> cf.CfSettlementsRequest:
    return cf.CfSettlementsRequest(
        pagination=cf.CfPagination(limit=query.limit, cursor=query.cursor),
        filters=cf.CfSettlementFilters(
            cf_settlement_ids=query.settlement_ids or None,
            settlement_utrs=query.utrs or None,
            start_date=_utc_z(query.start) if query.start else None,
            end_date=_utc_z(query.end) if query.end else None,
        ),
    )


def recon_request_body(query: GatewayReconQuery) -> cf.CfReconRequest:
    return cf.CfReconRequest(
        pagination=cf.CfPagination(limit=query.limit, cursor=query.cursor),
        filters=cf.CfReconFilters(start_date=_utc_z(query.start), end_date=_utc_z(query.end)),
    )


def order_from(wire: cf.CfOrder) -> GatewayOrder:
    return GatewayOrder(
        order_id=wire.order_id,
        gateway_order_id=wire.cf_order_id,
        amount_minor=to_minor(wire.order_amount, wire.order_currency),
        currency=wire.order_currency,
        status=ORDER_STATUSES[wire.order_status],
        payment_session_id=wire.payment_session_id,
        expires_at=wire.order_expiry_time,
        created_at=wire.created_at,
    )


def payment_from(wire: cf.CfPayment, order_id: str) -> GatewayPayment:
    currency = wire.payment_currency or wire.order_currency or _SETTLEMENT_CURRENCY
    error = None
    if wire.error_details is not None:
        details = wire.error_details
        error = GatewayAttemptError(
            code=details.error_code,
            description=details.error_description,
            reason=details.error_reason,
            source=details.error_source,
        )
    return GatewayPayment(
        order_id=wire.order_id or order_id,
        gateway_payment_id=wire.cf_payment_id,
        status=ATTEMPT_STATUSES[wire.payment_status],
        amount_minor=to_minor(wire.payment_amount, currency),
        currency=currency,
        order_amount_minor=_minor(wire.order_amount, currency),
        is_captured=wire.is_captured,
        message=wire.payment_message,
        bank_reference=wire.bank_reference,
        auth_id=wire.auth_id,
        payment_group=wire.payment_group,
        payment_method=next(iter(wire.payment_method), None) if wire.payment_method else None,
        initiated_at=wire.payment_time,
        completed_at=wire.payment_completion_time,
        error=error,
    )


# Closing statuses by suffix (the full list is UNCONFIRMED): lost or accepted gives the money
# back; won keeps it. A DISPUTE_CLOSED with any other status stays UNKNOWN (held, alerted).
_DISPUTE_WON: Final = ("_MERCHANT_WON",)
_DISPUTE_LOST: Final = ("_MERCHANT_LOST", "_MERCHANT_ACCEPTED", "_INSUFFICIENT_EVIDENCE")


def dispute_from(wire: cf.CfDispute, order: cf.CfDisputeOrder, closed: bool) -> GatewayDispute:
    currency = order.payment_currency or order.order_currency or _SETTLEMENT_CURRENCY
    status = wire.dispute_status.upper()
    if status.endswith(_DISPUTE_WON):
        outcome = GatewayDisputeOutcome.WON
    elif status.endswith(_DISPUTE_LOST):
        outcome = GatewayDisputeOutcome.LOST
    else:
        outcome = GatewayDisputeOutcome.UNKNOWN if closed else GatewayDisputeOutcome.OPEN
    return GatewayDispute(
        dispute_id=wire.dispute_id,
        dispute_type=wire.dispute_type,
        status=status,
        outcome=outcome,
        amount_minor=to_minor(wire.dispute_amount, currency),
        currency=currency,
        order_id=order.order_id,
        gateway_payment_id=order.cf_payment_id,
        respond_by=wire.respond_by,
        reason=wire.reason_description or wire.reason_code,
        updated_at=wire.updated_at,
    )


def refund_from(wire: cf.CfRefund) -> GatewayRefund:
    return GatewayRefund(
        order_id=wire.order_id,
        refund_id=wire.refund_id,
        gateway_refund_id=wire.cf_refund_id,
        gateway_payment_id=wire.cf_payment_id,
        amount_minor=to_minor(wire.refund_amount, wire.refund_currency),
        currency=wire.refund_currency,
        status=REFUND_STATUSES[wire.refund_status],
        status_description=wire.status_description,
        arn=wire.refund_arn,
        created_at=wire.created_at,
        processed_at=wire.processed_at,
    )


def settlement_from(wire: cf.CfSettlement) -> GatewaySettlement:
    currency = wire.settlement_currency or wire.order_currency or _SETTLEMENT_CURRENCY
    utr = wire.settlement_utr or wire.transfer_utr
    if wire.status is not None:
        status = SETTLEMENT_STATUSES[wire.status]
    else:
        # The 2025-01-01 entity has no status: a transfer UTR means the money moved.
        status = GatewaySettlementStatus.SETTLED if utr else GatewaySettlementStatus.PENDING
    return GatewaySettlement(
        gateway_settlement_id=wire.cf_settlement_id,
        order_id=wire.order_id,
        gateway_payment_id=wire.cf_payment_id,
        currency=currency,
        status=status,
        order_amount_minor=_minor(wire.order_amount, currency),
        service_charge_minor=_minor(wire.service_charge, currency),
        service_tax_minor=_minor(wire.service_tax, currency),
        settlement_amount_minor=_minor(wire.settlement_amount, currency),
        utr=utr,
        settled_at=wire.settled_on or wire.settlement_processed_on or wire.transfer_time,
    )


def settlement_page_from(wire: cf.CfSettlementPage) -> GatewaySettlementPage:
    return GatewaySettlementPage(
        settlements=[settlement_from(item) for item in wire.data],
        cursor=wire.cursor or None,
    )


def recon_entry_from(wire: cf.CfReconItem) -> GatewayReconEntry:
    currency = wire.event_currency or wire.order_currency or _SETTLEMENT_CURRENCY
    sale_type = (wire.sale_type or "").upper()
    return GatewayReconEntry(
        event_id=wire.event_id,
        event_type=RECON_EVENT_TYPES[wire.event_type],
        event_status=RECON_EVENT_STATUSES[wire.event_status],
        is_credit={"CREDIT": True, "DEBIT": False}.get(sale_type),
        currency=currency,
        amount_minor=_minor(wire.event_amount, currency),
        settlement_amount_minor=_minor(wire.event_settlement_amount, currency),
        order_id=wire.order_id,
        gateway_payment_id=wire.cf_payment_id,
        refund_id=wire.refund_id,
        gateway_settlement_id=wire.cf_settlement_id,
        settlement_utr=wire.settlement_utr,
        event_time=wire.event_time,
    )


def recon_page_from(wire: cf.CfReconPage) -> GatewayReconPage:
    return GatewayReconPage(
        entries=[recon_entry_from(item) for item in wire.data], cursor=wire.cursor
    )
