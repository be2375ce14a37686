from paycore.kit.errors import AppError, NotFound


class WebhookLogNotFound(NotFound):
    """No stored webhook with this id."""

    code = "webhook_log_not_found"


class MalformedWebhook(AppError):
    """The stored webhook cannot be read as its event type says (a poison message)."""

    code = "webhook_malformed"
    status = 422


class UnsupportedWebhookVersion(AppError):
    """A webhook format version this code does not know; support it, then replay."""

    code = "webhook_version_unsupported"
    status = 422


class GatewayDisagrees(AppError):
    """Cashfree's Get Payments API does not confirm what the webhook says."""

    code = "webhook_not_confirmed"
    status = 409
