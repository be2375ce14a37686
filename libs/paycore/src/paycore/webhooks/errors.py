"""What a webhook meets on its way in and through the processor (status, stable code; the
docstring is the message)."""

from paycore.kit.errors import Conflict, NotFound, Unprocessable, ValidationFailed


class WebhookLogNotFound(NotFound, code="webhook_log_not_found"):
    """No stored webhook with this id."""


class MalformedWebhook(ValidationFailed, code="webhook_malformed"):
    """The webhook body is not a JSON object, or not what its event type says (a poison
    message once stored)."""


class MissingWebhookHeaders(ValidationFailed, code="webhook_headers_missing"):
    """The webhook signature or timestamp header is missing or unreadable."""


class UnsupportedWebhookVersion(Unprocessable, code="webhook_version_unsupported"):
    """A webhook format version this code does not know; support it, then replay."""


class GatewayDisagrees(Conflict, code="webhook_not_confirmed"):
    """Cashfree's Get Payments API does not confirm what the webhook says."""


class MalformedMessage(Unprocessable, code="malformed_message"):
    """The message names no webhook log (a poison message)."""
