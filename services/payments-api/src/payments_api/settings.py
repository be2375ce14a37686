from paycore.kit.service import InfraSettings
from paycore.kit.settings import CashfreeSettings, EncryptionSettings, JwtSettings


class Settings(InfraSettings, CashfreeSettings, JwtSettings, EncryptionSettings):
    service_name: str = "payments-api"
    port: int = 8000
