from paycore.kit.service import InfraSettings
from paycore.kit.settings import CashfreeSettings


class Settings(InfraSettings, CashfreeSettings):
    service_name: str = "reconciler"
    port: int = 9104
