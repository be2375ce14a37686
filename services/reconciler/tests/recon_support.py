"""Helpers of the reconciler's tests."""

from typing import Any

from cashfree_emulator.testing import RunningEmulator
from paycore.gateway import CashfreeGateway
from paycore.gateway.schemas import (
    GatewayCustomer,
    GatewayOrderRequest,
    GatewayRefund,
    GatewayRefundRequest,
    GatewayRefundStatus,
    idempotency_key,
)
from paycore.kit.settings import CashfreeSettings
from paycore.payments.models import Payment
from paycore.payments.models import PaymentStatus as P
from paycore.payments.service import PaymentService
from paycore.testing import create_payment, eventually
from paycore.webhooks.models import WebhookLog, WebhookStatus
from pydantic import SecretStr


def gateway_for(emulator: RunningEmulator, version: str | None = None) -> CashfreeGateway:
    """A client of the emulator that does not retry (one armed fault is one failed call),
    speaking `version` of Cashfree's API (default: the client's)."""
    versioned = {"cashfree_api_version": version} if version else {}
    settings = CashfreeSettings(
        cashfree_app_id=emulator.app_id,
        cashfree_secret_key=SecretStr(emulator.secret_key),
        cashfree_base_url=emulator.api_url,  # type: ignore[arg-type]
        cashfree_max_retries=0,
        **versioned,
    )
    return CashfreeGateway(settings)


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


async def refund_at_gateway(
    gateway: CashfreeGateway, order_id: str, refund_id: str, amount: int, note: str | None = None
) -> GatewayRefund:
    """Creates our refund at the emulator (`note` "PENDING" keeps it pending there)."""
    request = GatewayRefundRequest(
        order_id=order_id, refund_id=refund_id, amount_minor=amount, currency="INR", note=note
    )
    return await gateway.create_refund(
        request, idempotency_key=idempotency_key("create_refund", refund_id)
    )


async def refunds_resolved_at_gateway(gateway: CashfreeGateway, order_id: str) -> None:
    """Waits until no refund of the order is PENDING at the emulator. It resolves a refund on
    a timer, after answering its creation: even with `refund_delay_seconds=0` the request
    after it may be answered first, and find it PENDING (seen once in 200 on a quiet
    machine)."""

    async def resolved() -> bool:
        refunds = await gateway.list_refunds(order_id)
        return all(refund.status != GatewayRefundStatus.PENDING for refund in refunds)

    await eventually(resolved)


async def paid_at_gateway(
    gateway: CashfreeGateway,
    emulator: RunningEmulator,
    status: P = P.SUCCESS,
    amount: int = 10_000,
    **fields: Any,
) -> Payment:
    """Our payment in `status` whose order the customer paid at the emulator; a captured one
    names the gateway's attempt (`cf_payment_id`), as applying the success would have."""
    payment = await create_payment(status=status, amount=amount, **fields)
    attempt = await emulator.control.pay(await order_in_gateway(gateway, payment.order_id, amount))
    if status == P.SUCCESS:
        payment.cf_payment_id = str(attempt["cf_payment_id"])
        await PaymentService().repository.collection.update_one(
            {"_id": payment.payment_id}, {"$set": {"cf_payment_id": payment.cf_payment_id}}
        )
    return payment


def webhook_log_of(
    order_id: str,
    status: WebhookStatus = WebhookStatus.SUCCESS,
    event_type: str = "PAYMENT_SUCCESS_WEBHOOK",
    **fields: Any,
) -> WebhookLog:
    """A webhook log of the order, as the ingress would store it (not stored)."""
    return WebhookLog(
        log_id=f"whk_{event_type}_{order_id}",
        event_id=f"evt_{event_type}_{order_id}",
        event_type=event_type,
        body_sha256="0" * 64,
        signature="sig",
        timestamp="1700000000000",
        status=status,
        order_id=order_id,
        **fields,
    )


async def webhook_log(
    order_id: str,
    status: WebhookStatus = WebhookStatus.SUCCESS,
    event_type: str = "PAYMENT_SUCCESS_WEBHOOK",
    **fields: Any,
) -> WebhookLog:
    """`webhook_log_of`, stored."""
    log = webhook_log_of(order_id, status, event_type, **fields)
    await log.insert()
    return log
