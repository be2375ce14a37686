from paycore.emails.transport import SmtpTransport
from paycore.kit.service import InfraSettings
from paycore.kit.settings import EncryptionSettings, PayLinkSettings, SmtpSettings
from pydantic import Field, field_validator


class Settings(InfraSettings, SmtpSettings, EncryptionSettings, PayLinkSettings):
    service_name: str = "email-worker"
    port: int = 9103
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long a claimed email is left to its sender before another delivery takes it over;
    # longer than an SMTP conversation can last.
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
