"""A payment's settlement: which payments a settlement covers, whether a stage changes what we
hold, and recording it. The webhook processor (SETTLEMENT_* webhooks), its operator's dry run
and reconciliation (a settlement whose webhook we missed) all come here, so it is decided and
recorded the same way whoever learns of it."""

from __future__ import annotations

from typing import Final

from paycore.gateway.interface import PaymentGateway
from paycore.gateway.schemas import GatewaySettlement, GatewaySettlementQuery
from paycore.kit.events import OutboxEvent
from paycore.kit.state import CONFLICT, WriteConflict, read_again_after, retry_on_conflict
from paycore.payments.models import Payment, Settlement, SettlementStatus
from paycore.payments.service import PaymentService

# A later settlement stage never gives way to an earlier one arriving late.
SETTLEMENT_RANK: Final = {
    SettlementStatus.PENDING: 0,
    SettlementStatus.SETTLED: 1,
    SettlementStatus.FAILED: 1,
    SettlementStatus.REVERSED: 2,
}
SETTLEMENT_EVENTS: Final = {
    SettlementStatus.PENDING: "payment.settlement_initiated",
    SettlementStatus.SETTLED: "payment.settled",
    SettlementStatus.FAILED: "payment.settlement_failed",
    SettlementStatus.REVERSED: "payment.settlement_reversed",
}

# Stages an operator must look at (money that did not arrive, or went back).
ALERTED_STAGES: Final = frozenset({SettlementStatus.FAILED, SettlementStatus.REVERSED})
# A settlement just initiated is often not listed yet: matching none of our payments is normal
# (reconciliation matches it later); at any other stage it is an orphan, alerted.
UNMATCHED_IS_NORMAL: Final = frozenset({SettlementStatus.PENDING})
# Orders asked per page of a settlement's listing (Cashfree allows 10 to 1000).
SETTLEMENT_PAGE_SIZE: Final = 100


def changes_settlement(
    current: Settlement | None, settlement_id: str | None, status: SettlementStatus
) -> bool:
    """Whether this stage of settlement `settlement_id` changes what the payment holds: not a
    repeat, and not an earlier stage arriving after a later one."""
    return not (
        current is not None
        and current.cf_settlement_id == settlement_id
        and SETTLEMENT_RANK[current.status] >= SETTLEMENT_RANK[status]
    )


async def settled_payments(
    payments: PaymentService,
    gateway: PaymentGateway | None,
    settlement: GatewaySettlement,
) -> list[Payment]:
    """The payments a settlement covers: the one it names, or (Cashfree's settlement webhook
    names no order) every order the gateway lists for it, page by page, with those an earlier
    stage matched. Without a gateway, only those an earlier stage matched."""
    if settlement.order_id:
        payment = await payments.find_by_order_id(settlement.order_id)
        return [payment] if payment is not None else []
    settlement_id = settlement.gateway_settlement_id
    if settlement_id is None:
        return []
    known = await payments.repository.list_by_settlement_id(settlement_id)
    if gateway is None:
        return known
    order_ids: set[str] = {payment.order_id for payment in known}
    cursor: str | None = None
    while True:
        page = await gateway.list_settlements(
            GatewaySettlementQuery(
                settlement_ids=[settlement_id], limit=SETTLEMENT_PAGE_SIZE, cursor=cursor
            )
        )
        order_ids |= {s.order_id for s in page.settlements if s.order_id}
        cursor = page.cursor
        if not cursor or not page.settlements:
            break
    found = [await payments.find_by_order_id(order_id) for order_id in sorted(order_ids)]
    return [payment for payment in found if payment is not None]


async def record_settlement(
    payments: PaymentService,
    payment: Payment,
    status: SettlementStatus,
    wire: GatewaySettlement,
) -> bool:
    """Records the settlement stage on the payment with its event (once; an earlier stage
    arriving after a later one changes nothing). True if it changed the payment. Amounts in
    minor units, from the gateway's record."""
    current_payment = read_again_after(payment, lambda: payments.get(payment.payment_id))

    async def attempt() -> bool | WriteConflict:
        payment = await current_payment()
        if not changes_settlement(payment.settlement, wire.gateway_settlement_id, status):
            return False  # a repeat, or an earlier stage arriving late
        settlement = Settlement(
            status=status,
            cf_settlement_id=wire.gateway_settlement_id,
            utr=wire.utr,
            settled_amount=wire.settlement_amount_minor,
            service_charge=wire.service_charge_minor,
            service_tax=wire.service_tax_minor,
            settled_at=wire.settled_at,
        )
        data = {**payment.summary(), "settlement": settlement.model_dump(mode="json")}
        updated = await payments.repository.append_events(
            payment,
            [OutboxEvent.of(SETTLEMENT_EVENTS[status], data)],
            changes={"settlement": settlement},
        )
        return CONFLICT if updated is None else True

    return await retry_on_conflict(attempt, payment_id=payment.payment_id)
