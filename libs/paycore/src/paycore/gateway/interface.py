"""What services depend on: a payment gateway, in our own types.

The type is the one implementation's public methods (`CashfreeGateway`); a second provider
turns this alias into a `Protocol` of those methods. Mutating calls take the caller's
idempotency key (see `schemas.idempotency_key`): repeating a call with the same key never
creates a second order or refund.
"""

from __future__ import annotations

from typing import TypeAlias

from paycore.gateway.cashfree import CashfreeGateway

PaymentGateway: TypeAlias = CashfreeGateway
