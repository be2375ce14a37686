from paycore.kit.errors import AppError


class UnknownEmailType(AppError):
    """No email is defined for this event type."""

    code = "unknown_email_type"
    status = 422


class EmailInFlight(AppError):
    """Another delivery of this event is sending the email right now; look again later."""

    code = "email_in_flight"
    status = 409
    retryable = True


class EmailDeliveryFailed(AppError):
    """The SMTP server could not be reached or refused for now; try again later."""

    code = "email_delivery_failed"
    status = 503
    retryable = True


class EmailRejected(AppError):
    """The SMTP server refused the message for good (e.g. an unknown recipient)."""

    code = "email_rejected"
    status = 422


class EmailDataMissing(AppError):
    """The event names a payment, refund or invoice we do not have."""

    code = "email_data_missing"
    status = 422
