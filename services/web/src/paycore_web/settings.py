from enum import StrEnum
from typing import Self

from paycore.kit.settings import AppEnv, BaseServiceSettings, SigningSecret
from pydantic import Field, field_validator, model_validator


class CheckoutMode(StrEnum):
    # Pay Now sends the browser to the payment's `checkout_url` (the emulator's hosted page).
    REDIRECT = "redirect"
    # Pay Now opens Cashfree's checkout with its JS SDK and the `payment_session_id`.
    CASHFREE_JS = "cashfree_js"


class Settings(BaseServiceSettings):
    service_name: str = "web"
    port: int = 8080

    # The payments-api, reached server-side (the browser only ever talks to these pages).
    payments_api_url: str = "http://127.0.0.1:8000"
    api_timeout_seconds: float = Field(default=15.0, gt=0)
    # Where customers reach these pages: return URLs given to Cashfree are built on it, and
    # a form post must come from this origin.
    web_public_url: str = "http://127.0.0.1:8080"
    # Signs the console's session cookie (which holds the merchant's bearer token).
    web_session_secret: SigningSecret
    web_session_max_age_seconds: int = Field(default=8 * 3600, gt=0)
    # Secure cookies (HTTPS only); off by default in development and test only.
    web_secure_cookies: bool | None = None

    checkout_mode: CheckoutMode = CheckoutMode.REDIRECT
    # Origins Pay Now may send the browser to (CSP form-action) or load checkout from
    # (script, connect and frame sources in cashfree_js mode); comma-separated.
    checkout_origins: str = "http://127.0.0.1:8090"
    # cashfree_js mode: the SDK's script and its mode.
    cashfree_js_url: str = "https://sdk.cashfree.com/js/v3/cashfree.js"
    cashfree_js_mode: str = Field(default="sandbox", pattern="^(sandbox|production)$")

    @field_validator("payments_api_url", "web_public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _https_outside_development(self) -> Self:
        # Pay links and the console's session travel in these URLs and cookies.
        if self.app_env in (AppEnv.STAGING, AppEnv.PRODUCTION):
            if not self.web_public_url.startswith("https://"):
                raise ValueError("WEB_PUBLIC_URL must be https:// in staging and production")
            if self.web_secure_cookies is False:
                raise ValueError("WEB_SECURE_COOKIES cannot be off in staging and production")
        return self

    @property
    def secure_cookies(self) -> bool:
        if self.web_secure_cookies is not None:
            return self.web_secure_cookies
        return self.app_env not in (AppEnv.DEVELOPMENT, AppEnv.TEST)

    @property
    def checkout_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.checkout_origins.split(",") if origin.strip()]
