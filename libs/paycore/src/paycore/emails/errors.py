"""What sending an email meets (status, stable code; the docstring is the message)."""

from paycore.kit.errors import AppError, Conflict, Unprocessable


class UnknownEmailType(Unprocessable, code="unknown_email_type"):
    """No email is defined for this event type."""


class EmailInFlight(Conflict, code="email_in_flight", retryable=True):
    """Another delivery of this event is sending the email right now; look again later."""


class EmailDeliveryFailed(AppError, code="email_delivery_failed", status=503, retryable=True):
    """The SMTP server could not be reached or refused for now; try again later."""


class EmailRejected(Unprocessable, code="email_rejected"):
    """The SMTP server refused the message for good (e.g. an unknown recipient)."""


class EmailDataMissing(Unprocessable, code="email_data_missing"):
    """The event names a payment, refund or invoice we do not have."""
