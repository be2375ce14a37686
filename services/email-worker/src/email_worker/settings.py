from paycore.kit.service import InfraSettings
from paycore.kit.settings import SmtpSettings


class Settings(InfraSettings, SmtpSettings):
    service_name: str = "email-worker"
    port: int = 9103
