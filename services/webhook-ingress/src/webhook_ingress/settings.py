from paycore.kit.service import FailFastInfraSettings
from paycore.kit.settings import EncryptionSettings, WebhookSecretSettings
from pydantic import Field


class Settings(FailFastInfraSettings, WebhookSecretSettings, EncryptionSettings):
    """Isolated: MongoDB, Redis, RabbitMQ, the webhook secret and the PII key (it seals the
    bodies it stores); no Cashfree API credentials."""

    service_name: str = "webhook-ingress"
    port: int = 8001
    # Cashfree's payloads are a few KiB; anything near this is not a Cashfree webhook.
    webhook_max_body_bytes: int = Field(default=256 * 1024, gt=0)
    # The inline publish waits this long for the broker's confirm before leaving the event to
    # the outbox sweep (Cashfree still gets its 200).
    webhook_publish_timeout_seconds: float = Field(default=1.0, gt=0)
    webhook_dedupe_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
