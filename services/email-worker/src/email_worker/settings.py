from typing import Self

from paycore.emails.service import RECORD_ALLOWANCE
from paycore.emails.transport import SmtpTransport
from paycore.kit.service import InfraSettings
from paycore.kit.settings import EncryptionSettings, PayLinkSettings, SmtpSettings
from pydantic import Field, field_validator, model_validator


class Settings(InfraSettings, SmtpSettings, EncryptionSettings, PayLinkSettings):
    service_name: str = "email-worker"
    port: int = 9103
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long a claimed email is left to its sender before another delivery takes it over;
    # longer than an SMTP conversation and the write of its record can last (checked below).
    email_claim_seconds: float = Field(default=120.0, gt=0)
    email_brand: str = "paycore"
    # The payment-failed email's link (INVOICE_PAY_URL, the invoice email's, comes with the
    # pay-link settings); `{payment_id}`, `{order_id}`, `{invoice_number}`, `{pay_token}`.
    payment_retry_url: str = ""
    refund_expected_time: str = "within 5-7 working days"

    @field_validator("smtp_url")
    @classmethod
    def _readable_smtp_url(cls, value: str) -> str:
        SmtpTransport.from_url(value)  # raises ValueError naming the expected form
        return value

    @model_validator(mode="after")
    def _claim_outlasts_a_conversation(self) -> Self:
        # Shorter, a redelivery could take over an email whose conversation is still under
        # way, or accepted and not yet recorded, and send it again.
        floor = self.smtp_timeout_seconds + RECORD_ALLOWANCE.total_seconds()
        if self.email_claim_seconds < floor:
            raise ValueError(
                f"EMAIL_CLAIM_SECONDS must be at least SMTP_TIMEOUT_SECONDS + "
                f"{RECORD_ALLOWANCE.total_seconds():g} ({floor:g})"
            )
        return self
