"""What a refund refuses or meets (status, stable code; the docstring is the message)."""

from paycore.kit.errors import AppError, Conflict, NotFound


class RefundNotFound(NotFound, code="refund_not_found"):
    """No such refund."""


class RefundAmountMismatch(Conflict, code="refund_amount_mismatch"):
    """The gateway reports this refund with another amount or currency than ours: never
    applied; the details say both."""


class ExtraCaptureNotFound(NotFound, code="extra_capture_not_found"):
    """The payment has no second capture with this gateway payment id."""


class RefundOutcomeUnknown(AppError, code="refund_outcome_unknown", status=504, retryable=True):
    """The gateway may or may not have made the refund; it is looked up before any retry."""


class RefundDiffersAtGateway(Conflict, code="refund_differs_at_gateway"):
    """The gateway holds this refund id with another amount, or refuses our idempotency key."""


class RefundBusy(Conflict, code="refund_busy", retryable=True):
    """Another worker is executing this refund right now; try again shortly."""
