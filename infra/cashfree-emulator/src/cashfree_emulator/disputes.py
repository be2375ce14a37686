"""Disputes and chargebacks a customer raises against a paid order (DISPUTE_* webhooks).

Cashfree documents the DISPUTE_CREATED, DISPUTE_UPDATED and DISPUTE_CLOSED events with a
`respond_by` deadline; the full list of `dispute_status` values is UNCONFIRMED. Statuses used
here: `<TYPE>_CREATED`, `<TYPE>_DOCS_RECEIVED`, `<TYPE>_UNDER_REVIEW` (open), and
`<TYPE>_MERCHANT_WON`, `<TYPE>_MERCHANT_LOST`, `<TYPE>_MERCHANT_ACCEPTED` (closed).
"""

from datetime import timedelta
from decimal import Decimal

from cashfree_emulator.emulator import Emulator
from cashfree_emulator.errors import conflict, not_found
from cashfree_emulator.orders import paid_payments
from cashfree_emulator.records import Dispute, Order
from cashfree_emulator.webhook_payloads import dispute_event
from cashfree_emulator.wire import now_ist

CLOSING = ("_MERCHANT_WON", "_MERCHANT_LOST", "_MERCHANT_ACCEPTED")


def open_dispute(
    emulator: Emulator,
    order: Order,
    *,
    dispute_type: str,
    amount: Decimal | None,
    respond_within_days: int,
) -> Dispute:
    paid = paid_payments(emulator.store, order, "only a paid order can be disputed")
    now = now_ist()
    dispute = Dispute(
        app_id=order.app_id,
        dispute_id=emulator.store.next_dispute_id(),
        order_id=order.order_id,
        cf_payment_id=paid[0].cf_payment_id,
        dispute_type=dispute_type,
        amount=amount if amount is not None else paid[0].amount,
        currency=order.currency,
        status=f"{dispute_type}_CREATED",
        reason_code="1402",
        reason_description="Duplicate Processing",
        respond_by=now + timedelta(days=respond_within_days),
        created_at=now,
        updated_at=now,
    )
    emulator.store.disputes[(order.app_id, dispute.dispute_id)] = dispute
    emulator.webhooks.emit(
        order.app_id, lambda _v: dispute_event("DISPUTE_CREATED", dispute, order)
    )
    return dispute


def move_dispute(emulator: Emulator, app_id: str, dispute_id: str, status: str) -> Dispute:
    """DISPUTE_UPDATED, or DISPUTE_CLOSED when `status` decides it (won, lost, accepted)."""
    dispute = emulator.store.disputes.get((app_id, dispute_id))
    if dispute is None:
        raise not_found("dispute_not_found", "dispute not found for the dispute_id")
    if dispute.status.endswith(CLOSING):
        raise conflict("dispute_closed", f"dispute is already {dispute.status}")
    dispute.status = status
    dispute.updated_at = now_ist()
    order = emulator.store.order(app_id, dispute.order_id)
    event = "DISPUTE_CLOSED" if status.endswith(CLOSING) else "DISPUTE_UPDATED"
    emulator.webhooks.emit(app_id, lambda _v: dispute_event(event, dispute, order))
    return dispute
