"""What the webhook appliers work with: the domain services, the gateway, and the settings
that decide how far a webhook is believed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from paycore.disputes.service import DisputeService
from paycore.gateway.errors import GatewayNotFound
from paycore.gateway.interface import PaymentGateway
from paycore.payments.service import PaymentService
from paycore.refunds.service import RefundService
from paycore.webhooks.errors import GatewayDisagrees

T = TypeVar("T")


class ApplyContext:
    def __init__(
        self,
        payments: PaymentService | None = None,
        refunds: RefundService | None = None,
        *,
        gateway: PaymentGateway | None = None,
        confirm_with_gateway: bool = False,
        refund_extra_captures: bool = False,
    ) -> None:
        self.payments = payments or PaymentService()
        self.refunds = refunds or RefundService(self.payments)
        self.disputes = DisputeService(self.payments)
        self.gateway = gateway
        # Confirm every success with the gateway before applying it (a webhook outside the
        # timestamp window is confirmed whatever its status).
        self.confirm_with_gateway = confirm_with_gateway and gateway is not None
        # Refund a second capture on one order at once (else the operator's one command).
        self.refund_extra_captures = refund_extra_captures

    async def confirmed(
        self, log_id: str, what: str, ask: Callable[[PaymentGateway], Awaitable[T]]
    ) -> T:
        """Cashfree's own record of the `what` ("payment", "refund"), which wins over the
        webhook's body; `GatewayDisagrees` when there is no gateway to ask or it does not
        know it."""
        if self.gateway is None:
            raise GatewayDisagrees("no gateway to confirm this webhook with", log_id=log_id)
        try:
            return await ask(self.gateway)
        except GatewayNotFound as exc:
            raise GatewayDisagrees(f"the gateway does not know this {what}", log_id=log_id) from exc
