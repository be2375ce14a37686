"""Start-up settings: flags of `python -m cashfree_emulator`, `EMULATOR_*` env vars, kwargs.

`POST /_emulator/reset` returns to exactly these settings.
"""

import json
import os
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from cashfree_emulator.schemas import EmulatorConfig, MerchantConfig, WebhookVersion

ENV_PREFIX = "EMULATOR_"


class EmulatorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8090
    # The default merchant.
    app_id: str = "TEST_APP_ID"
    secret_key: str = "TEST_SECRET_KEY"  # noqa: S105 - the emulator's public test merchant key
    webhook_urls: list[str] = []
    webhook_version: WebhookVersion = "2025-01-01"
    rate_limit_per_minute: int | None = Field(default=None, ge=1)
    # More merchants besides the default one.
    merchants: list[MerchantConfig] = []
    refund_delay_seconds: float = Field(default=1.0, ge=0)
    webhook_retry_scale: float = Field(default=1.0, ge=0)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    service_charge_rate: Decimal = Field(default=Decimal("0.02"), ge=0, lt=1)
    auto_settle_seconds: float | None = Field(default=None, ge=0)

    # The default merchant's fields and the runtime config's carry their models' names, so each
    # is copied by name.
    def initial_merchants(self) -> list[MerchantConfig]:
        default = MerchantConfig.model_validate(self._fields_of(MerchantConfig))
        return [default, *self.merchants]

    def initial_config(self) -> EmulatorConfig:
        return EmulatorConfig.model_validate(self._fields_of(EmulatorConfig))

    def _fields_of(self, model: type[BaseModel]) -> dict[str, object]:
        """The settings that `model` has a field for (its other fields keep their defaults)."""
        return self.model_dump(include=set(model.model_fields))


def from_text(name: str, raw: str) -> object:
    """A setting given as text (env var or flag): URL lists are comma-separated, merchants JSON."""
    if name == "webhook_urls":
        return [url.strip() for url in raw.split(",") if url.strip()]
    if name == "merchants":
        return json.loads(raw)
    return raw


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, object]:
    """Settings present in the environment, e.g. `EMULATOR_WEBHOOK_URLS=http://a,http://b`."""
    env = dict(os.environ if environ is None else environ)
    return {
        name: from_text(name, env[ENV_PREFIX + name.upper()])
        for name in EmulatorSettings.model_fields
        if env.get(ENV_PREFIX + name.upper())
    }
