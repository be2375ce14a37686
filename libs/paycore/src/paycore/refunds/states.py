"""The refund lifecycle: INITIATED → PROCESSING → SUCCESS | FAILED | CANCELLED; SUCCESS →
REVERSED. A gateway answer may arrive before the worker marked the refund PROCESSING, so the
final states are reachable from INITIATED too.

FAILED or CANCELLED → SUCCESS is a contradiction, not a normal path: the gateway says money
left that we thought stayed. It is applied (money moved whatever we believed) and alerted."""

from typing import Final

from paycore.kit.state import StateTable
from paycore.refunds.models import RefundStatus as R

REFUND_STATES: Final = StateTable(
    {
        R.INITIATED: {R.PROCESSING, R.SUCCESS, R.FAILED, R.CANCELLED},
        R.PROCESSING: {R.SUCCESS, R.FAILED, R.CANCELLED},
        R.SUCCESS: {R.REVERSED},
        R.FAILED: {R.SUCCESS},
        R.CANCELLED: {R.SUCCESS},
        R.REVERSED: set(),
    }
)

FINAL: Final = frozenset({R.SUCCESS, R.FAILED, R.CANCELLED, R.REVERSED})
RELEASES_RESERVATION: Final = frozenset({R.FAILED, R.CANCELLED})
