from typing import Self
from urllib.parse import urlsplit

from paycore.kit.service import FailFastInfraSettings
from paycore.kit.settings import (
    AppEnv,
    CashfreeSettings,
    EncryptionSettings,
    JwtSettings,
    PayLinkSettings,
)
from pydantic import Field, field_validator, model_validator

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})  # noqa: S104 - compared, not bound


class Settings(
    FailFastInfraSettings, CashfreeSettings, JwtSettings, EncryptionSettings, PayLinkSettings
):
    service_name: str = "payments-api"
    port: int = 8000

    # Payments: integer minor units, currencies by ISO code.
    payment_max_amount: int = Field(default=10_000_000_00, gt=0)  # ₹1 crore
    allowed_currencies: str = "INR"  # comma-separated
    # Where the client opens checkout: this + the payment_session_id.
    checkout_base_url: str = "http://127.0.0.1:8090/checkout/"
    # Cashfree calls the payment webhooks here when set (the webhook-ingress).
    payment_notify_url: str | None = None
    # Every order we create expires this long after creation (`order_expiry_time`): an
    # abandoned checkout stops being payable and the janitor closes its payment. Cashfree
    # wants at least 15 minutes (UNCONFIRMED minimum; the emulator accepts any future time).
    order_expiry_seconds: int = Field(default=3600, ge=60, le=30 * 86_400)

    # HTTP edge.
    cors_origins: str = ""  # comma-separated allow-list; empty allows no cross-origin caller
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    # The client IP behind proxies: TRUSTED_PROXIES / TRUSTED_PROXY_HOPS (every HTTP service).

    # Rate limits: requests accepted in any 60 s (Redis, a sliding log per subject).
    rate_limit_user_per_minute: int = Field(default=600, gt=0)
    rate_limit_ip_per_minute: int = Field(default=1200, gt=0)
    # Verify asks Cashfree twice (order, attempts): it spends the merchant's API quota.
    verify_per_payment_per_minute: int = Field(default=10, gt=0)
    verify_per_user_per_minute: int = Field(default=60, gt=0)

    # Idempotency.
    idempotency_ttl_seconds: int = Field(default=86_400, gt=0)
    # How long a request may hold its key before a retry may take over (crash safety).
    idempotency_in_flight_seconds: int = Field(default=60, gt=0)

    # Fraud: sliding-window velocity (attempts per window) and repeated failures.
    fraud_window_seconds: int = Field(default=600, gt=0)
    fraud_review_per_user: int = Field(default=20, gt=0)
    fraud_block_per_user: int = Field(default=60, gt=0)
    fraud_review_per_ip: int = Field(default=40, gt=0)
    fraud_block_per_ip: int = Field(default=120, gt=0)
    fraud_review_per_email: int = Field(default=20, gt=0)
    fraud_block_per_email: int = Field(default=60, gt=0)
    fraud_review_per_device: int = Field(default=20, gt=0)
    fraud_block_per_device: int = Field(default=60, gt=0)
    fraud_failure_window_seconds: int = Field(default=3600, gt=0)
    fraud_review_failures: int = Field(default=3, gt=0)
    fraud_block_failures: int = Field(default=10, gt=0)
    fraud_review_amount: int = Field(default=5_000_000, gt=0)  # ₹50,000 in paise

    # History pages.
    history_max_page_size: int = Field(default=100, gt=0, le=500)

    @field_validator("checkout_base_url")
    @classmethod
    def _ends_with_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _public_urls_in_production(self) -> Self:
        # The development default points at the emulator: production answers would send every
        # customer to http://127.0.0.1.
        if self.app_env == AppEnv.PRODUCTION:
            for name in ("checkout_base_url", "payment_notify_url"):
                value = getattr(self, name)
                host = urlsplit(value).hostname if value else None
                if value is None or not value.startswith("https://") or host in LOOPBACK:
                    raise ValueError(f"{name.upper()} must be a public https:// URL in production")
        return self

    @property
    def currency_allow_list(self) -> frozenset[str]:
        return frozenset(c.strip().upper() for c in self.allowed_currencies.split(",") if c.strip())

    @property
    def cors_allow_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]
