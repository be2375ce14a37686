"""What an invoice and its pay links refuse (status, stable code; the docstring is the message)."""

from paycore.kit.errors import AppError, Conflict, NotFound, Unprocessable, ValidationFailed


class InvoiceNotFound(NotFound, code="invoice_not_found"):
    """No such invoice."""


class InvoiceAlreadyExists(Conflict, code="invoice_already_exists"):
    """An invoice with this number already exists."""


class InvoiceTotalsMismatch(Unprocessable, code="invoice_totals_mismatch"):
    """The subtotal, tax or total sent does not match the one computed from the items."""


class InvoiceAlreadyPaid(Conflict, code="invoice_already_paid"):
    """The invoice is already paid."""


class InvoicePaymentInProgress(Conflict, code="invoice_payment_in_progress"):
    """Another payment for this invoice is being created; retry shortly."""


class InvoiceAmountMismatch(Unprocessable, code="invoice_amount_mismatch"):
    """The payment amount or currency differs from the invoice total."""


class CustomerPhoneRequired(ValidationFailed, code="customer_phone_required"):
    """The invoice has no client phone; send customer_phone (the gateway requires one)."""


class InvalidCursor(ValidationFailed, code="invalid_cursor"):
    """The cursor does not name an invoice of this listing."""


class PayLinkInvalid(NotFound, code="pay_link_invalid"):
    """This pay link is not valid: check that it was copied completely."""


class PayLinkExpired(AppError, code="pay_link_expired", status=410):
    """This pay link has expired: ask the merchant for a new one."""
