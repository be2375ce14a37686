"""Settlements of paid orders: charges, UTRs and SETTLEMENT_* webhooks (fact sheet §5)."""

import asyncio
from decimal import ROUND_HALF_UP, Decimal

from cashfree_emulator.emulator import Emulator
from cashfree_emulator.errors import conflict
from cashfree_emulator.records import Order, Settlement
from cashfree_emulator.store import random_digits
from cashfree_emulator.webhook_payloads import settlement_event
from cashfree_emulator.wire import TWO_PLACES, now_ist

GST_RATE = Decimal("0.18")


def _round(value: Decimal) -> Decimal:
    return value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def settle_order(emulator: Emulator, order: Order, status: str) -> Settlement:
    """Create the order's settlement or move it to `status`, then send SETTLEMENT_<status>."""
    store = emulator.store
    settlement = next(
        (s for s in store.settlements_of(order.app_id) if s.order_id == order.order_id), None
    )
    if settlement is None:
        settlement = _new_settlement(emulator, order, status)
    elif status == "REVERSED" and settlement.status != "SUCCESS":
        raise conflict("settlement_not_reversible", "only a successful settlement can be reversed")
    else:
        settlement.status = status
        if status == "SUCCESS" and settlement.settled_on is None:
            settlement.settled_on = now_ist()
    emulator.webhooks.emit(order.app_id, lambda _version: settlement_event(settlement))
    return settlement


def _new_settlement(emulator: Emulator, order: Order, status: str) -> Settlement:
    if status == "REVERSED":
        raise conflict("settlement_not_found", "the order has no settlement to reverse")
    paid = [p for p in emulator.store.payments_of(order) if p.status == "SUCCESS"]
    if not paid:
        raise conflict("order_not_paid", "only paid orders are settled")
    payment_amount = sum((p.amount for p in paid), Decimal(0))
    service_charge = _round(payment_amount * emulator.config.service_charge_rate)
    service_tax = _round(service_charge * GST_RATE)
    now = now_ist()
    settlement = Settlement(
        app_id=order.app_id,
        cf_settlement_id=emulator.store.next_cf_settlement_id(),
        order_id=order.order_id,
        cf_payment_id=paid[0].cf_payment_id,
        currency=order.currency,
        order_amount=order.amount,
        payment_amount=payment_amount,
        service_charge=service_charge,
        service_tax=service_tax,
        settlement_amount=payment_amount - service_charge - service_tax,
        utr=random_digits(16),
        status=status,
        payment_time=paid[0].completion_time or paid[0].payment_time,
        initiated_on=now,
        settled_on=now if status == "SUCCESS" else None,
        transfer_id=emulator.store.next_transfer_id(),
    )
    emulator.store.settlements.append(settlement)
    return settlement


async def settle_later(emulator: Emulator, order: Order, seconds: float) -> None:
    await asyncio.sleep(seconds)
    settle_order(emulator, order, "SUCCESS")
