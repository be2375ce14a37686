from paycore.kit.errors import AppError, Conflict, NotFound


class PaymentNotFound(NotFound):
    """No such payment."""

    code = "payment_not_found"


class RefundExceedsPayment(Conflict):
    """The refund is larger than what is left to refund on this payment."""

    code = "refund_exceeds_refundable"
    status = 422


class PaymentNotRefundable(Conflict):
    """Only a successful payment can be refunded."""

    code = "payment_not_refundable"


class AmountMismatch(AppError):
    """The gateway reports an amount or currency that differs from the payment's."""

    code = "amount_mismatch"
    status = 409
