"""What services depend on: a payment gateway, in our own types.

`CashfreeGateway` is the one implementation today; a second provider implements this too.
Mutating calls take the caller's idempotency key (see `schemas.idempotency_key`): repeating a
call with the same key never creates a second order or refund.
"""

from __future__ import annotations

from typing import Protocol

from paycore.gateway.schemas import (
    Order,
    OrderRequest,
    Payment,
    ReconPage,
    ReconQuery,
    Refund,
    RefundRequest,
    Settlement,
    SettlementPage,
    SettlementQuery,
)


class PaymentGateway(Protocol):
    async def create_order(
        self, request: OrderRequest, *, idempotency_key: str, request_id: str | None = None
    ) -> Order:
        """Creates the order, or returns it if it already exists with the same amount."""
        ...

    async def get_order(self, order_id: str, *, request_id: str | None = None) -> Order: ...

    async def terminate_order(
        self, order_id: str, *, idempotency_key: str, request_id: str | None = None
    ) -> Order: ...

    async def list_payments(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[Payment]: ...

    async def get_payment(
        self, order_id: str, gateway_payment_id: str, *, request_id: str | None = None
    ) -> Payment: ...

    async def create_refund(
        self, request: RefundRequest, *, idempotency_key: str, request_id: str | None = None
    ) -> Refund:
        """Creates the refund, or returns it if it already exists with the same amount."""
        ...

    async def get_refund(
        self, order_id: str, refund_id: str, *, request_id: str | None = None
    ) -> Refund: ...

    async def list_refunds(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[Refund]: ...

    async def list_settlements(
        self, query: SettlementQuery, *, request_id: str | None = None
    ) -> SettlementPage: ...

    async def get_order_settlements(
        self, order_id: str, *, request_id: str | None = None
    ) -> list[Settlement]: ...

    async def settlement_recon(
        self, query: SettlementQuery, *, request_id: str | None = None
    ) -> ReconPage: ...

    async def pg_recon(self, query: ReconQuery, *, request_id: str | None = None) -> ReconPage: ...

    async def aclose(self) -> None: ...
