from paycore.kit.service import InfraSettings
from paycore.kit.settings import CashfreeSettings
from pydantic import Field


class Settings(InfraSettings, CashfreeSettings):
    service_name: str = "reconciler"
    port: int = 9104
    # Janitor: payments open this long are asked of the gateway; orphan reservations released.
    janitor_interval_seconds: float = Field(default=60, gt=0)
    stale_payment_seconds: float = Field(default=900, gt=0)
    orphan_reservation_seconds: float = Field(default=900, gt=0)
    # Reconciliation: every interval, the last window of the gateway's report.
    reconcile_interval_seconds: float = Field(default=3600, gt=0)
    reconcile_window_seconds: float = Field(default=86_400, gt=0)
    failure_spike_per_minute: int = Field(default=20, ge=1)
