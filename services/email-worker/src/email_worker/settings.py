from paycore.emails.transport import SmtpTransport
from paycore.kit.service import InfraSettings
from paycore.kit.settings import EncryptionSettings, SmtpSettings
from pydantic import Field, field_validator


class Settings(InfraSettings, SmtpSettings, EncryptionSettings):
    service_name: str = "email-worker"
    port: int = 9103
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long a claimed email is left to its sender before another delivery takes it over;
    # longer than an SMTP conversation can last.
    email_claim_seconds: float = Field(default=120.0, gt=0)
    email_brand: str = "paycore"
    # Links in emails; `{payment_id}`, `{order_id}`, `{invoice_number}` are filled in.
    payment_retry_url: str = ""
    invoice_pay_url: str = ""
    refund_expected_time: str = "within 5-7 working days"

    @field_validator("smtp_url")
    @classmethod
    def _readable_smtp_url(cls, value: str) -> str:
        SmtpTransport.from_url(value)  # raises ValueError naming the expected form
        return value
