"""The payment lifecycle (docs/design.md §2) as data.

A success is stronger evidence than a failure: a payment that failed, expired or was cancelled
can still turn SUCCESS (the customer retried, or the bank confirmed late), but nothing turns a
SUCCESS back into a failure.
"""

from typing import Final

from paycore.kit.state import StateTable
from paycore.payments.models import PaymentStatus as P

PAYMENT_STATES: Final = StateTable(
    {
        P.CREATED: {P.PENDING, P.FAILED, P.CANCELLED},
        P.PENDING: {P.AUTHORIZING, P.PROCESSING, P.SUCCESS, P.FAILED, P.EXPIRED, P.CANCELLED},
        P.AUTHORIZING: {P.PROCESSING, P.SUCCESS, P.FAILED, P.EXPIRED, P.CANCELLED},
        P.PROCESSING: {P.SUCCESS, P.FAILED, P.EXPIRED, P.CANCELLED},
        P.FAILED: {P.SUCCESS},
        P.EXPIRED: {P.SUCCESS},
        P.CANCELLED: {P.SUCCESS},
        P.SUCCESS: {P.PARTIALLY_REFUNDED, P.REFUNDED},
        P.PARTIALLY_REFUNDED: {P.PARTIALLY_REFUNDED, P.REFUNDED},
        P.REFUNDED: set(),
    }
)

# Statuses in which the payment holds captured money.
CAPTURED: Final = frozenset({P.SUCCESS, P.PARTIALLY_REFUNDED, P.REFUNDED})
# Statuses a refund can be reserved in.
REFUNDABLE: Final = frozenset({P.SUCCESS, P.PARTIALLY_REFUNDED})
# Not yet decided: a gateway result can still move these.
OPEN: Final = frozenset({P.CREATED, P.PENDING, P.AUTHORIZING, P.PROCESSING})
