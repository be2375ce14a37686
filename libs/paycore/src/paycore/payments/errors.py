"""What a payment refuses (status, stable code; the docstring is the message)."""

from paycore.kit.errors import Conflict, NotFound, Unprocessable, ValidationFailed


class PaymentNotFound(NotFound, code="payment_not_found"):
    """No such payment."""


class RefundExceedsPayment(Unprocessable, code="refund_exceeds_refundable"):
    """The refund is larger than what is left to refund on this payment."""


class PaymentNotRefundable(Conflict, code="payment_not_refundable"):
    """Only a successful payment can be refunded."""


class AmountMismatch(Conflict, code="amount_mismatch"):
    """The gateway reports an amount or currency that differs from the payment's."""


class CurrencyNotAllowed(ValidationFailed, code="currency_not_allowed"):
    """This currency is not accepted."""


class AmountTooLarge(ValidationFailed, code="amount_too_large"):
    """The amount is above the maximum for one payment."""


class AmountTooSmall(ValidationFailed, code="amount_too_small"):
    """The amount is below the currency's minimum for one payment (₹1)."""
