from paycore.kit.service import InfraSettings
from paycore.kit.settings import WebhookSecretSettings


class Settings(InfraSettings, WebhookSecretSettings):
    service_name: str = "webhook-ingress"
    port: int = 8001
