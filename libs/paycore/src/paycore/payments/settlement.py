"""Recording a payment's settlement: the webhook processor (SETTLEMENT_* webhooks) and
reconciliation (a settlement whose webhook we missed) both come here, so it is recorded the
same way whoever learns of it."""

from __future__ import annotations

from typing import Final

from paycore.gateway.schemas import GatewaySettlement
from paycore.kit.events import OutboxEvent
from paycore.kit.state import CONFLICT, Conflict, read_again_after, retry_on_conflict
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

    async def attempt() -> bool | Conflict:
        payment = await current_payment()
        current = payment.settlement
        if (
            current is not None
            and current.cf_settlement_id == wire.gateway_settlement_id
            and SETTLEMENT_RANK[current.status] >= SETTLEMENT_RANK[status]
        ):
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
