from paycore.kit.errors import AppError, Conflict, NotFound, ValidationFailed


class InvoiceNotFound(NotFound):
    """No such invoice."""

    code = "invoice_not_found"


class InvoiceAlreadyExists(Conflict):
    """An invoice with this number already exists."""

    code = "invoice_already_exists"


class InvoiceTotalsMismatch(AppError):
    """The subtotal, tax or total sent does not match the one computed from the items."""

    code = "invoice_totals_mismatch"
    status = 422


class InvoiceAlreadyPaid(Conflict):
    """The invoice is already paid."""

    code = "invoice_already_paid"


class InvoicePaymentInProgress(Conflict):
    """Another payment for this invoice is being created; retry shortly."""

    code = "invoice_payment_in_progress"


class InvoiceAmountMismatch(AppError):
    """The payment amount or currency differs from the invoice total."""

    code = "invoice_amount_mismatch"
    status = 422


class CustomerPhoneRequired(ValidationFailed):
    """The invoice has no client phone; send customer_phone (the gateway requires one)."""

    code = "customer_phone_required"


class InvalidCursor(ValidationFailed):
    """The cursor does not name an invoice of this listing."""

    code = "invalid_cursor"
