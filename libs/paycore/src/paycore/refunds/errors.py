from paycore.kit.errors import AppError, NotFound


class RefundNotFound(NotFound):
    """No such refund."""

    code = "refund_not_found"


class RefundAmountMismatch(AppError):
    """The gateway reports this refund with another amount or currency than ours: never
    applied; the details say both."""

    code = "refund_amount_mismatch"
    status = 409


class ExtraCaptureNotFound(NotFound):
    """The payment has no second capture with this gateway payment id."""

    code = "extra_capture_not_found"
