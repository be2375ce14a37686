"""What the webhook appliers work with: the domain services, the gateway, and the settings
that decide how far a webhook is believed."""

from __future__ import annotations

from paycore.disputes.service import DisputeService
from paycore.gateway.interface import PaymentGateway
from paycore.payments.service import PaymentService
from paycore.refunds.service import RefundService


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
