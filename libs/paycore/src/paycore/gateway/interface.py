"""What services depend on: a payment gateway, in our own types.

`CashfreeGateway` is the one implementation today; a second provider implements this too.
Mutating calls take the caller's idempotency key (see `schemas.idempotency_key`): repeating a
call with the same key never creates a second order or refund.
"""

from __future__ import annotations

from typing import Protocol

from paycore.gateway.schemas import (
    GatewayOrder,
    GatewayOrderRequest,
    GatewayPayment,
    GatewayReconPage,
    GatewayReconQuery,
    GatewayRefund,
    GatewayRefundRequest,
    GatewaySettlement,
    GatewaySettlementPage,
    GatewaySettlementQuery,
)


class PaymentGateway(Protocol):
    async def create_order(
        self, request: GatewayOrderRequest, *, idempotency_key: str, request_id: str | None = None
    ) -> GatewayOrder:
        """Creates the order, or returns it if it already exists with the same amount."""
        ...

    async def get_order(self, order_id: str, *, request_id: str | None = None) -> GatewayOrder: ...

    async def terminate_order(
        self, order_id: str, *, idempotency_key: str, request_id: str | None = None
    ) -> GatewayOrder: ...

    async def list_payments(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[GatewayPayment]: ...

    async def get_payment(
        self, order_id: str, gateway_payment_id: str, *, request_id: str | None = None
    ) -> GatewayPayment: ...

    async def create_refund(
        self, request: GatewayRefundRequest, *, idempotency_key: str, request_id: str | None = None
    ) -> GatewayRefund:
        """Creates the refund, or returns it if it already exists with the same amount."""
        ...

    async def get_refund(
        self, order_id: str, refund_id: str, *, request_id: str | None = None
    ) -> GatewayRefund: ...

    async def list_refunds(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[GatewayRefund]: ...

    async def list_settlements(
        self, query: GatewaySettlementQuery, *, request_id: str | None = None
    ) -> GatewaySettlementPage: ...

    async def get_order_settlements(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[GatewaySettlement]: ...

    async def settlement_recon(
        self, query: GatewaySettlementQuery, *, request_id: str | None = None
    ) -> GatewayReconPage: ...

    async def pg_recon(
        self, query: GatewayReconQuery, *, request_id: str | None = None
    ) -> GatewayReconPage: ...

    async def aclose(self) -> None: ...
