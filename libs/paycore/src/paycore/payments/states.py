"""The payment lifecycle (docs/design.md §2) as data.

Our payment follows the gateway *order*, not one attempt: a failed or dropped attempt leaves the
order payable, so it is an event on the payment, never a state. A payment closes when its order
does (EXPIRED, CANCELLED when terminated) or when the gateway refused the order (FAILED).

A success is stronger evidence than a failure: a payment that failed, expired or was cancelled
(or is still CREATED because the order's answer was lost) can still turn SUCCESS, since money
was received; nothing turns a SUCCESS back into a failure.
"""

from typing import Final

from paycore.kit.state import StateTable
from paycore.payments.models import PaymentStatus as P

PAYMENT_STATES: Final = StateTable(
    {
        P.CREATED: {P.PENDING, P.PROCESSING, P.SUCCESS, P.FAILED, P.CANCELLED},
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
# Closed without money: a success arriving for one of these contradicts what we hold.
CLOSED_UNPAID: Final = frozenset({P.FAILED, P.EXPIRED, P.CANCELLED})
