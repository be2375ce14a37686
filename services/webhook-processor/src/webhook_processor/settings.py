from paycore.kit.service import InfraSettings
from paycore.kit.settings import CashfreeSettings, EncryptionSettings
from pydantic import Field


class Settings(InfraSettings, CashfreeSettings, EncryptionSettings):
    service_name: str = "webhook-processor"
    port: int = 9101
    # Confirm a PAYMENT_SUCCESS with Cashfree's Get Payments API before applying it.
    webhook_confirm_with_gateway: bool = False
    # Refund a second capture on one order (money received twice) as soon as it is seen;
    # off: the operator runs `ops refund-extra-capture` (the alert names the command).
    refund_extra_captures: bool = False
    # The payments-api's repeated-failures window (FRAUD_FAILURE_WINDOW_SECONDS): a failed
    # attempt reported by webhook counts there too.
    fraud_failure_window_seconds: int = Field(default=3600, gt=0)
    # Test only (APP_ENV=test): after applying a webhook and before marking it done, touch
    # this file and wait forever, so a test can kill the process in the middle of a message.
    webhook_test_hold_file: str | None = None
