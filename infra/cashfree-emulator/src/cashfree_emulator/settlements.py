"""Settlements of paid orders: charges, UTRs and SETTLEMENT_* webhooks (fact sheet §5)."""

import asyncio
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

from cashfree_emulator.emulator import Emulator
from cashfree_emulator.errors import conflict
from cashfree_emulator.orders import paid_payments
from cashfree_emulator.records import Order, Settlement
from cashfree_emulator.store import random_digits
from cashfree_emulator.webhook_payloads import settlement_event
from cashfree_emulator.wire import TWO_PLACES, now_ist

GST_RATE = Decimal("0.18")


def _round(value: Decimal) -> Decimal:
    return value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def settle_order(
    emulator: Emulator, order: Order, status: str, *, short_by: Decimal = Decimal(0)
) -> Settlement:
    """Create the order's settlement or move it to `status`, then send SETTLEMENT_<status>.
    `short_by` (rupees): a new settlement pays that much less than its charges explain."""
    store = emulator.store
    settlement = next(
        (s for s in store.settlements_of(order.app_id) if s.order_id == order.order_id), None
    )
    if settlement is None:
        settlement = _new_settlement(emulator, order, status)
        settlement.settlement_amount -= short_by
    elif status == "REVERSED" and settlement.status != "SUCCESS":
        raise conflict("settlement_not_reversible", "only a successful settlement can be reversed")
    else:
        settlement.status = status
        if status == "SUCCESS" and settlement.settled_on is None:
            settlement.settled_on = now_ist()
    emulator.webhooks.emit(order.app_id, lambda _version: settlement_event(settlement))
    return settlement


def settle_orders(emulator: Emulator, orders: list[Order], status: str) -> list[Settlement]:
    """One settlement (one id, one UTR) covering several paid orders, as Cashfree batches a
    day's payments; its single SETTLEMENT_<status> webhook names no order, only totals."""
    if not orders:
        raise conflict("order_not_paid", "a settlement needs at least one paid order")
    first = _new_settlement(emulator, orders[0], status)
    rows = [first]
    for order in orders[1:]:
        row = _new_settlement(emulator, order, status)
        row.cf_settlement_id, row.utr, row.transfer_id = (
            first.cf_settlement_id,
            first.utr,
            first.transfer_id,
        )
        rows.append(row)
    total = replace(
        first,
        payment_amount=sum((r.payment_amount for r in rows), Decimal(0)),
        service_charge=sum((r.service_charge for r in rows), Decimal(0)),
        service_tax=sum((r.service_tax for r in rows), Decimal(0)),
        settlement_amount=sum((r.settlement_amount for r in rows), Decimal(0)),
    )
    emulator.webhooks.emit(first.app_id, lambda _version: settlement_event(total))
    return rows


def _new_settlement(emulator: Emulator, order: Order, status: str) -> Settlement:
    if status == "REVERSED":
        raise conflict("settlement_not_found", "the order has no settlement to reverse")
    paid = paid_payments(emulator.store, order, "only paid orders are settled")
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
