from paycore.kit.service import InfraSettings
from paycore.kit.settings import CashfreeSettings
from pydantic import Field


class Settings(InfraSettings, CashfreeSettings):
    service_name: str = "refund-worker"
    port: int = 9102
    # A refund still waiting for the gateway's outcome this long after its last change is
    # asked about (Get Refund), then again with backoff while it stays open: 12 and 288 times
    # this (300 s: 5 min, 1 h, then daily; paycore.kit.recheck.unknown_refund).
    refund_poll_after_seconds: float = Field(default=300.0, gt=0)
    refund_poll_interval_seconds: float = Field(default=30.0, gt=0)
    refund_poll_batch: int = Field(default=50, ge=1, le=1000)
    # One refund is worked on by one delivery or poll at a time; longer than a gateway call
    # with its retries can last.
    refund_lock_seconds: float = Field(default=120.0, gt=0)
