"""Helpers of the reconciler's tests."""

from paycore.gateway import CashfreeGateway
from paycore.gateway.schemas import GatewayCustomer, GatewayOrderRequest, idempotency_key


async def order_in_gateway(gateway: CashfreeGateway, order_id: str, amount: int) -> str:
    """Creates the order at the emulator; returns its payment session id."""
    order = await gateway.create_order(
        GatewayOrderRequest(
            order_id=order_id,
            amount_minor=amount,
            currency="INR",
            customer=GatewayCustomer(customer_id="cus_1", phone="9876543210"),
        ),
        idempotency_key=idempotency_key("create_order", order_id),
    )
    assert order.payment_session_id is not None
    return order.payment_session_id
