"""Refunds: create with Cashfree's duplicate and limit rules, then resolve in the background."""

import asyncio
from decimal import Decimal

from cashfree_emulator.emulator import Emulator
from cashfree_emulator.entities import refunded_total
from cashfree_emulator.errors import CashfreeError, conflict, invalid
from cashfree_emulator.orders import current_order
from cashfree_emulator.payments import record_extra_success
from cashfree_emulator.records import Order, Payment, Refund
from cashfree_emulator.schemas import (
    AutoRefundRequest,
    DashboardRefundRequest,
    FaultKind,
)
from cashfree_emulator.store import random_digits, random_token
from cashfree_emulator.validation import amount, identifier, require_object, text
from cashfree_emulator.webhook_payloads import auto_refund_event, refund_event
from cashfree_emulator.wire import dumps, now_ist

SPEEDS = frozenset({"STANDARD", "INSTANT"})
FINAL_STATUSES = frozenset({"SUCCESS", "CANCELLED", "FAILED"})
# Sandbox convention: a refund_note naming a status simulates it (case-sensitive). ACTIVE
# is not a refund status; it is treated as staying PENDING, the harder case for a merchant.
NOTE_OUTCOMES = {
    "SUCCESS": "SUCCESS",
    "FAILED": "FAILED",
    "PENDING": "PENDING",
    "ACTIVE": "PENDING",
    "CANCELLED": "CANCELLED",
    "ONHOLD": "ONHOLD",
}
_FAULT_OUTCOMES = {
    FaultKind.REFUND_STAYS_PENDING: "PENDING",
    FaultKind.REFUND_ONHOLD: "ONHOLD",
    FaultKind.REFUND_CANCELLED: "CANCELLED",
    FaultKind.REFUND_FAILED: "FAILED",
}
_DESCRIPTIONS = {
    "PENDING": "Refund is pending",
    "ONHOLD": "Refund is on hold",
    "SUCCESS": "Refund processed successfully",
    "CANCELLED": "Refund cancelled by Cashfree",
    "FAILED": "Refund failed at the bank",
}


def create_refund(emulator: Emulator, app_id: str, order_id: str, raw_body: object) -> Refund:
    body = require_object(raw_body)
    order = current_order(emulator.store, app_id, order_id)
    # Required here although PY6 (2026-01-01) makes it optional: our IDs keep retries safe.
    refund_id = identifier(body, "refund_id", max_length=40, required=True)
    assert refund_id is not None
    refund_amount = amount(body.get("refund_amount"), "refund_amount", minimum=Decimal("0.01"))
    note = text(body, "refund_note", min_length=3, max_length=100)
    speed = body.get("refund_speed") or "STANDARD"
    if speed not in SPEEDS:
        raise invalid("refund_speed_invalid", "refund_speed : should be STANDARD or INSTANT")
    splits = body.get("refund_splits") or []
    fingerprint = dumps([str(refund_amount), note, speed, splits])
    existing = emulator.store.refunds.get((app_id, refund_id))
    if existing is not None:
        if existing.order_id == order_id and existing.request_fingerprint == fingerprint:
            return existing
        raise invalid("refund_id_already_exists", "refund with the same refund_id already exists")
    payment = _refundable_payment(emulator, order, refund_amount)
    fault = emulator.faults.take_refund_fault(app_id)
    resolve_to = _FAULT_OUTCOMES[fault.kind] if fault else NOTE_OUTCOMES.get(note or "", "SUCCESS")
    refund = _open_refund(
        emulator,
        order,
        payment,
        refund_id=refund_id,
        refund_amount=refund_amount,
        note=note,
        speed=str(speed),
        refund_type="MERCHANT_INITIATED",
        resolve_to=resolve_to,
    )
    refund.request_fingerprint = fingerprint
    refund.refund_splits = list(splits)
    return refund


def dashboard_refund(
    emulator: Emulator, app_id: str, order_id: str, request: DashboardRefundRequest
) -> Refund:
    """A refund made in the merchant dashboard: our backend never asked for it."""
    order = current_order(emulator.store, app_id, order_id)
    refund_amount = amount(request.refund_amount, "refund_amount", minimum=Decimal("0.01"))
    refund_id = request.refund_id or "refund_dashboard_" + random_token(12)
    if (app_id, refund_id) in emulator.store.refunds:
        raise invalid("refund_id_already_exists", "refund with the same refund_id already exists")
    payment = _refundable_payment(emulator, order, refund_amount)
    return _open_refund(
        emulator,
        order,
        payment,
        refund_id=refund_id,
        refund_amount=refund_amount,
        note=request.refund_note,
        speed="STANDARD",
        refund_type="MERCHANT_INITIATED",
        resolve_to=request.resolve_to,
    )


def auto_refund(
    emulator: Emulator, app_id: str, order_id: str, request: AutoRefundRequest
) -> Refund:
    """Cashfree refunding on its own, e.g. a second payment on an already paid order."""
    order = current_order(emulator.store, app_id, order_id)
    if request.duplicate_payment:
        payment = record_extra_success(emulator, order)
    else:
        paid = emulator.store.successful_payments(order)
        if not paid:
            raise conflict("refund_not_allowed", "the order has no successful payment")
        payment = paid[-1]
    refund_amount = request.amount if request.amount is not None else payment.amount
    cf_refund_id = emulator.store.next_cf_refund_id()
    refund = _open_refund(
        emulator,
        order,
        payment,
        refund_id=f"auto_refund_{cf_refund_id}",
        refund_amount=refund_amount,
        note=None,
        speed="STANDARD",
        refund_type="PAYMENT_AUTO_REFUND",
        resolve_to=request.status,
        cf_refund_id=cf_refund_id,
    )
    refund.reason = request.reason
    return refund


def resolve_refund(
    emulator: Emulator, refund: Refund, status: str, *, contradict: bool = False
) -> None:
    """Move a refund on and send its webhook (Cashfree sends none for PENDING/ONHOLD).
    `contradict`: a FAILED or CANCELLED refund may still turn SUCCESS."""
    contradiction = contradict and refund.status in ("FAILED", "CANCELLED") and status == "SUCCESS"
    if refund.status in FINAL_STATUSES and not contradiction:
        raise conflict("refund_already_processed", f"refund is already {refund.status}")
    refund.status = status
    refund.status_description = _DESCRIPTIONS[status]
    if status in FINAL_STATUSES:
        refund.processed_at = now_ist()
    if status == "SUCCESS":
        refund.refund_arn = random_digits(12)
    payment = emulator.store.payments[refund.cf_payment_id]
    if refund.refund_type == "PAYMENT_AUTO_REFUND":
        emulator.webhooks.emit(refund.app_id, lambda _v: auto_refund_event(refund, payment))
    elif status in FINAL_STATUSES:
        emulator.webhooks.emit(refund.app_id, lambda version: refund_event(version, refund))


def reverse_refund(refund: Refund) -> Refund:
    """The bank sent a successful refund back: recon shows a REFUND_REVERSAL credit."""
    if refund.status != "SUCCESS":
        raise conflict("refund_not_reversible", "only a successful refund can be reversed")
    if refund.reversed_at is None:
        refund.reversed_at = now_ist()
    return refund


def _refundable_payment(emulator: Emulator, order: Order, refund_amount: Decimal) -> Payment:
    if order.status != "PAID":
        raise conflict("refund_not_allowed", "refund can be initiated only for PAID orders")
    # Merchant refunds draw on the order's first successful payment.
    payment = next(p for p in emulator.store.payments_of(order) if p.status == "SUCCESS")
    left = payment.amount - refunded_total(emulator.store.refunds_of(order), payment.cf_payment_id)
    if left <= 0:
        raise conflict("refund_not_allowed", "the order is already fully refunded")
    if refund_amount > left:
        raise _over_limit(left)
    return payment


def _over_limit(left: Decimal) -> CashfreeError:
    return invalid(
        "refund_amount_invalid", f"refund_amount : should be less than or equal to {left}"
    )


def _open_refund(
    emulator: Emulator,
    order: Order,
    payment: Payment,
    *,
    refund_id: str,
    refund_amount: Decimal,
    note: str | None,
    speed: str,
    refund_type: str,
    resolve_to: str,
    cf_refund_id: str | None = None,
) -> Refund:
    refund = Refund(
        app_id=order.app_id,
        order_id=order.order_id,
        refund_id=refund_id,
        cf_refund_id=cf_refund_id or emulator.store.next_cf_refund_id(),
        cf_payment_id=payment.cf_payment_id,
        amount=refund_amount,
        currency=order.currency,
        note=note,
        requested_speed=speed,
        refund_type=refund_type,
        status="PENDING",
        status_description=_DESCRIPTIONS["PENDING"],
        created_at=now_ist(),
        resolve_to=resolve_to,
    )
    emulator.store.refunds[(order.app_id, refund_id)] = refund
    # A refund told to stay PENDING never resolves (auto refunds still report it).
    if resolve_to != "PENDING" or refund_type == "PAYMENT_AUTO_REFUND":
        emulator.spawn(_resolve_later(emulator, refund))
    return refund


async def _resolve_later(emulator: Emulator, refund: Refund) -> None:
    await asyncio.sleep(emulator.config.refund_delay_seconds)
    if refund.status == "PENDING":
        if refund.resolve_to == "PENDING":
            # Auto refund reported as still pending.
            emulator.webhooks.emit(
                refund.app_id,
                lambda _v: auto_refund_event(refund, emulator.store.payments[refund.cf_payment_id]),
            )
            return
        resolve_refund(emulator, refund, refund.resolve_to)
