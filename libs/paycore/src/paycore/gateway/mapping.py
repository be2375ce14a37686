"""Translation between our types (`schemas`, named `ours.` here) and Cashfree's wire format
(`models`, named `cf.`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from paycore.gateway import models as cf
from paycore.gateway import schemas as ours
from paycore.money import to_major, to_minor

# Cashfree settles in INR; a settlement or recon row without a currency is INR.
_SETTLEMENT_CURRENCY: Final = "INR"

ORDER_STATUSES: Final = {
    cf.CfOrderStatus.ACTIVE: ours.GatewayOrderStatus.OPEN,
    cf.CfOrderStatus.PAID: ours.GatewayOrderStatus.PAID,
    cf.CfOrderStatus.EXPIRED: ours.GatewayOrderStatus.EXPIRED,
    cf.CfOrderStatus.TERMINATED: ours.GatewayOrderStatus.TERMINATED,
    cf.CfOrderStatus.TERMINATION_REQUESTED: ours.GatewayOrderStatus.TERMINATING,
    cf.CfOrderStatus.UNKNOWN: ours.GatewayOrderStatus.UNKNOWN,
}

ATTEMPT_STATUSES: Final = {
    cf.CfPaymentStatus.SUCCESS: ours.GatewayAttemptStatus.SUCCEEDED,
    cf.CfPaymentStatus.PENDING: ours.GatewayAttemptStatus.PENDING,
    cf.CfPaymentStatus.NOT_ATTEMPTED: ours.GatewayAttemptStatus.NOT_ATTEMPTED,
    cf.CfPaymentStatus.FAILED: ours.GatewayAttemptStatus.FAILED,
    cf.CfPaymentStatus.USER_DROPPED: ours.GatewayAttemptStatus.ABANDONED,
    cf.CfPaymentStatus.VOID: ours.GatewayAttemptStatus.VOIDED,
    cf.CfPaymentStatus.CANCELLED: ours.GatewayAttemptStatus.CANCELLED,
    cf.CfPaymentStatus.UNKNOWN: ours.GatewayAttemptStatus.UNKNOWN,
}

REFUND_STATUSES: Final = {
    cf.CfRefundStatus.PENDING: ours.GatewayRefundStatus.PENDING,
    cf.CfRefundStatus.ONHOLD: ours.GatewayRefundStatus.ON_HOLD,
    cf.CfRefundStatus.SUCCESS: ours.GatewayRefundStatus.SUCCEEDED,
    cf.CfRefundStatus.FAILED: ours.GatewayRefundStatus.FAILED,
    cf.CfRefundStatus.CANCELLED: ours.GatewayRefundStatus.CANCELLED,
    cf.CfRefundStatus.UNKNOWN: ours.GatewayRefundStatus.UNKNOWN,
}

SETTLEMENT_STATUSES: Final = {
    cf.CfSettlementStatus.SUCCESS: ours.GatewaySettlementStatus.SETTLED,
    cf.CfSettlementStatus.PENDING: ours.GatewaySettlementStatus.PENDING,
    cf.CfSettlementStatus.PENDING_WITH_CASHFREE: ours.GatewaySettlementStatus.PENDING,
    cf.CfSettlementStatus.PENDING_WITH_BANK: ours.GatewaySettlementStatus.PENDING,
    cf.CfSettlementStatus.FAILED: ours.GatewaySettlementStatus.FAILED,
    cf.CfSettlementStatus.UNKNOWN: ours.GatewaySettlementStatus.UNKNOWN,
}

RECON_EVENT_STATUSES: Final = {
    cf.CfReconEventStatus.SUCCESS: ours.GatewayReconEventStatus.SUCCEEDED,
    cf.CfReconEventStatus.PENDING: ours.GatewayReconEventStatus.PENDING,
    cf.CfReconEventStatus.FAILED: ours.GatewayReconEventStatus.FAILED,
    cf.CfReconEventStatus.CANCELLED: ours.GatewayReconEventStatus.CANCELLED,
    cf.CfReconEventStatus.UNKNOWN: ours.GatewayReconEventStatus.UNKNOWN,
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


def order_request_body(request: ours.GatewayOrderRequest) -> cf.CfCreateOrderRequest:
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


def refund_request_body(request: ours.GatewayRefundRequest) -> cf.CfCreateRefundRequest:
    return cf.CfCreateRefundRequest(
        refund_id=request.refund_id,
        refund_amount=to_major(request.amount_minor, request.currency),
        refund_note=request.note,
        refund_speed=request.speed.value,
    )


def settlements_request_body(query: ours.GatewaySettlementQuery) -> cf.CfSettlementsRequest:
    return cf.CfSettlementsRequest(
        pagination=cf.CfPagination(limit=query.limit, cursor=query.cursor),
        filters=cf.CfSettlementFilters(
            cf_settlement_ids=query.settlement_ids or None,
            settlement_utrs=query.utrs or None,
            start_date=_utc_z(query.start) if query.start else None,
            end_date=_utc_z(query.end) if query.end else None,
        ),
    )


def recon_request_body(query: ours.GatewayReconQuery) -> cf.CfReconRequest:
    return cf.CfReconRequest(
        pagination=cf.CfPagination(limit=query.limit, cursor=query.cursor),
        filters=cf.CfReconFilters(start_date=_utc_z(query.start), end_date=_utc_z(query.end)),
    )


def order_from(wire: cf.CfOrder) -> ours.GatewayOrder:
    return ours.GatewayOrder(
        order_id=wire.order_id,
        gateway_order_id=wire.cf_order_id,
        amount_minor=to_minor(wire.order_amount, wire.order_currency),
        currency=wire.order_currency,
        status=ORDER_STATUSES[wire.order_status],
        payment_session_id=wire.payment_session_id,
        expires_at=wire.order_expiry_time,
        created_at=wire.created_at,
    )


def payment_from(wire: cf.CfPayment, order_id: str) -> ours.GatewayPayment:
    currency = wire.payment_currency or wire.order_currency or _SETTLEMENT_CURRENCY
    error = None
    if wire.error_details is not None:
        details = wire.error_details
        error = ours.GatewayAttemptError(
            code=details.error_code,
            description=details.error_description,
            reason=details.error_reason,
            source=details.error_source,
        )
    return ours.GatewayPayment(
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


def dispute_from(wire: cf.CfDispute, order: cf.CfDisputeOrder, closed: bool) -> ours.GatewayDispute:
    currency = order.payment_currency or order.order_currency or _SETTLEMENT_CURRENCY
    status = wire.dispute_status.upper()
    if status.endswith(_DISPUTE_WON):
        outcome = ours.GatewayDisputeOutcome.WON
    elif status.endswith(_DISPUTE_LOST):
        outcome = ours.GatewayDisputeOutcome.LOST
    else:
        outcome = ours.GatewayDisputeOutcome.UNKNOWN if closed else ours.GatewayDisputeOutcome.OPEN
    return ours.GatewayDispute(
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


def refund_from(wire: cf.CfRefund) -> ours.GatewayRefund:
    return ours.GatewayRefund(
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


def settlement_from(wire: cf.CfSettlement) -> ours.GatewaySettlement:
    currency = wire.settlement_currency or wire.order_currency or _SETTLEMENT_CURRENCY
    utr = wire.settlement_utr or wire.transfer_utr
    if wire.status is not None:
        status = SETTLEMENT_STATUSES[wire.status]
    else:
        # The 2025-01-01 entity has no status: a transfer UTR means the money moved.
        status = (
            ours.GatewaySettlementStatus.SETTLED if utr else ours.GatewaySettlementStatus.PENDING
        )
    return ours.GatewaySettlement(
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


def settlement_page_from(wire: cf.CfSettlementPage) -> ours.GatewaySettlementPage:
    return ours.GatewaySettlementPage(
        settlements=[settlement_from(item) for item in wire.data],
        cursor=wire.cursor or None,
    )


def recon_entry_from(wire: cf.CfReconItem) -> ours.GatewayReconEntry:
    currency = wire.event_currency or wire.order_currency or _SETTLEMENT_CURRENCY
    sale_type = (wire.sale_type or "").upper()
    return ours.GatewayReconEntry(
        event_id=wire.event_id,
        event_type=wire.event_type,
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


def recon_page_from(wire: cf.CfReconPage) -> ours.GatewayReconPage:
    return ours.GatewayReconPage(
        entries=[recon_entry_from(item) for item in wire.data], cursor=wire.cursor
    )
