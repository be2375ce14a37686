from paycore.kit.service import InfraSettings
from paycore.kit.settings import EncryptionSettings, WebhookSecretSettings
from pydantic import Field


class Settings(InfraSettings, WebhookSecretSettings, EncryptionSettings):
    """Isolated: MongoDB, Redis, RabbitMQ, the webhook secret and the PII key (it seals the
    bodies it stores); no Cashfree API credentials."""

    service_name: str = "webhook-ingress"
    port: int = 8001
    # Fail fast (answer 503) when a dependency is down, well inside the caller's timeout:
    # a database that is unreachable answers in about 0.3 s, a stuck one in 3 s.
    mongo_timeout_ms: int = Field(default=300, gt=0)
    mongo_connect_timeout_ms: int = Field(default=2000, gt=0)
    mongo_socket_timeout_ms: int = Field(default=3000, gt=0)
    redis_timeout_seconds: float = Field(default=1.0, gt=0)
    # Cashfree's payloads are a few KiB; anything near this is not a Cashfree webhook.
    webhook_max_body_bytes: int = Field(default=256 * 1024, gt=0)
    # The inline publish waits this long for the broker's confirm before leaving the event to
    # the outbox sweep (Cashfree still gets its 200).
    webhook_publish_timeout_seconds: float = Field(default=1.0, gt=0)
    webhook_dedupe_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
