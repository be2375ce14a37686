"""Settings: shared blocks that each service's `Settings` class combines.

Every variable is read from the environment by its plain name (`MONGO_URI`), or from the file
named by `<NAME>_FILE` (Kubernetes secrets mounted as files). A missing or malformed variable
stops start-up with one line naming it (`load_settings`).
"""

from __future__ import annotations

import base64
import os
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    AnyUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from paycore.kit.client_ip import ClientAddressResolver, parse_networks


def _at_least_32_characters(value: SecretStr) -> SecretStr:
    if len(value.get_secret_value()) < 32:
        raise ValueError("must be at least 32 characters")
    return value


# A secret that signs (JWT, pay links, session cookies): shorter ones can be guessed offline.
SigningSecret = Annotated[SecretStr, AfterValidator(_at_least_32_characters)]


def url_schemes(*schemes: str) -> AfterValidator:
    """The check of a URL setting: it starts with one of `schemes` ("must start with …")."""
    *head, last = schemes
    named = f"{', '.join(head)} or {last}" if head else last

    def check(value: str) -> str:
        if not value.startswith(schemes):
            raise ValueError(f"must start with {named}")
        return value

    return AfterValidator(check)


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


class FileSecretsSource(EnvSettingsSource):
    """Reads `<NAME>_FILE` variables: the value is the content of the named file."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        env_name = f"{field.validation_alias or field_name}".upper() + "_FILE"
        path = os.environ.get(env_name)
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text().strip(), field_name, False
        except OSError as exc:
            raise ValueError(f"{env_name}: cannot read {path}: {exc.strerror}") from exc


class BaseServiceSettings(BaseSettings):
    """What every service has: identity, environment, logging and metrics."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    service_name: str = "paycore"
    app_env: AppEnv = AppEnv.DEVELOPMENT
    port: int = Field(default=8000, ge=1, le=65535)
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    prometheus_enabled: bool = True
    # When set, /metrics, /health/ready and /health/<dependency> are served on this port only
    # (an operations port the public Service never exposes); the public port keeps /health.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    shutdown_grace_seconds: float = Field(default=20.0, gt=0)
    # Who may tell us the client's address in X-Forwarded-For (paycore.kit.client_ip): the
    # proxies' CIDRs (comma-separated), and/or how many proxies always stand in front.
    trusted_proxies: str = ""
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)
    # Production refuses server URLs without TLS (mongodb without tls=true, redis://, amqp://,
    # SMTP without TLS); a deployment whose network encrypts for it says so here.
    allow_plaintext_transport: bool = False

    @property
    def requires_tls(self) -> bool:
        return self.app_env == AppEnv.PRODUCTION and not self.allow_plaintext_transport

    def _encrypted_in_production(self, setting: str, encrypted: bool, how: str) -> Self:
        """Refuses a connection setting without TLS where production requires it."""
        if self.requires_tls and not encrypted:
            raise ValueError(PLAINTEXT.format(name=setting, how=how))
        return self

    @model_validator(mode="after")
    def _ports_differ(self) -> Self:
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError("METRICS_PORT must differ from PORT")
        return self

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def client_address_resolver(self) -> ClientAddressResolver:
        return ClientAddressResolver(parse_networks(self.trusted_proxies), self.trusted_proxy_hops)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, FileSecretsSource(settings_cls)


PLAINTEXT = (
    "{name} has no TLS, which production refuses: use {how}"
    " (or ALLOW_PLAINTEXT_TRANSPORT=true where the network encrypts for us)"
)


class MongoSettings(BaseServiceSettings):
    mongo_uri: Annotated[str, url_schemes("mongodb://", "mongodb+srv://")] = (
        "mongodb://127.0.0.1:27017/?directConnection=true"
    )
    mongo_db: str = Field(default="paycore", pattern=r"^[A-Za-z0-9_-]{1,63}$")
    # Server selection: how long an operation waits for a reachable server. HTTP services
    # answering callers with their own timeouts set it well under those (a webhook caller gives
    # up after ~5 s): a database outage must answer 503 at once.
    mongo_timeout_ms: int = Field(default=5000, gt=0)
    # Opening a connection (TCP and handshake); a refused connection fails at once anyway.
    mongo_connect_timeout_ms: int = Field(default=5000, gt=0)
    # A reply slower than this fails the operation (retryable) instead of hanging forever.
    mongo_socket_timeout_ms: int = Field(default=30_000, gt=0)

    @model_validator(mode="after")
    def _mongo_tls(self) -> Self:
        # mongodb+srv:// turns TLS on unless the URL turns it off.
        options = {
            k.lower(): v[-1].lower() for k, v in parse_qs(urlsplit(self.mongo_uri).query).items()
        }
        on = options.get("tls", options.get("ssl"))
        tls = on == "true" or (on is None and self.mongo_uri.startswith("mongodb+srv://"))
        return self._encrypted_in_production("MONGO_URI", tls, "tls=true or mongodb+srv://")


class RedisSettings(BaseServiceSettings):
    redis_url: Annotated[str, url_schemes("redis://", "rediss://", "unix://")] = (
        "redis://127.0.0.1:6379/0"
    )
    redis_prefix: str = ""  # isolates tests sharing one server
    # Connect and per-command reply bound: a Redis that is down or stuck fails the command
    # (callers fall back to the database or answer 503) instead of holding the request.
    redis_timeout_seconds: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _redis_tls(self) -> Self:
        plaintext = self.redis_url.startswith("redis://")
        return self._encrypted_in_production("REDIS_URL", not plaintext, "rediss://")


class RabbitSettings(BaseServiceSettings):
    rabbitmq_url: Annotated[str, url_schemes("amqp://", "amqps://")] = (
        "amqp://guest:guest@127.0.0.1:5672/"
    )
    # Exchange and queue names get this prefix; tests use one per run.
    broker_prefix: str = ""
    # Delays of the retry queues, in order; the dead-letter queue follows the last.
    retry_delays_ms: list[int] = [30_000, 120_000, 600_000, 1_800_000]
    prefetch_count: int = Field(default=16, ge=1)
    # Bounds every declare and queue inspection: an unanswered request fails, never hangs.
    broker_timeout_seconds: float = Field(default=10.0, gt=0)
    # Tests only: the broker deletes a queue unused this long, so prefixed test queues don't
    # pile up. Never set in production (a consumer outage would delete its queue).
    queue_expires_ms: int | None = Field(default=None, gt=0)
    # The sweep only catches what a crash or an outage left; the writer publishes the rest.
    outbox_poll_seconds: float = Field(default=5.0, gt=0)
    # Events older than this are swept up by any instance; younger ones belong to their writer.
    outbox_grace_seconds: float = Field(default=5.0, ge=0)
    # How often a service reads its own queues' depths and consumer counts into its metrics.
    queue_report_seconds: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _amqp_tls(self) -> Self:
        plaintext = self.rabbitmq_url.startswith("amqp://")
        return self._encrypted_in_production("RABBITMQ_URL", not plaintext, "amqps://")

    @field_validator("retry_delays_ms")
    @classmethod
    def _positive_delays(cls, value: list[int]) -> list[int]:
        if any(delay <= 0 for delay in value):
            raise ValueError("every delay must be a positive number of milliseconds")
        return value


class CashfreeEnv(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


CASHFREE_URLS = {
    CashfreeEnv.SANDBOX: "https://sandbox.cashfree.com/pg",
    CashfreeEnv.PRODUCTION: "https://api.cashfree.com/pg",
}


class CashfreeSettings(BaseServiceSettings):
    """API credentials: for services that call Cashfree (never the webhook ingress)."""

    cashfree_app_id: str = Field(min_length=1)
    cashfree_secret_key: SecretStr
    cashfree_env: CashfreeEnv = CashfreeEnv.SANDBOX
    # Overrides the URL of `cashfree_env` (the emulator in development and tests).
    cashfree_base_url: AnyUrl | None = None
    cashfree_api_version: str = Field(default="2025-01-01", pattern=r"^\d{4}-\d{2}-\d{2}$")
    cashfree_timeout_seconds: float = Field(default=10.0, gt=0)
    cashfree_max_retries: int = Field(default=2, ge=0, le=5)

    @property
    def cashfree_url(self) -> str:
        if self.cashfree_base_url is not None:
            return str(self.cashfree_base_url).rstrip("/")
        return CASHFREE_URLS[self.cashfree_env]


class WebhookSecretSettings(BaseServiceSettings):
    # Cashfree signs webhooks with the client secret; several during a rotation, comma-separated.
    cashfree_webhook_secret: SecretStr
    webhook_tolerance_ms: int = Field(default=300_000, gt=0)

    @property
    def webhook_secrets(self) -> list[bytes]:
        raw = self.cashfree_webhook_secret.get_secret_value()
        return [part.strip().encode() for part in raw.split(",") if part.strip()]


class JwtSettings(BaseServiceSettings):
    """Bearer tokens: HS256 with JWT_SECRET (issuer JWT_ISSUER), and when JWT_JWKS_URL is set
    an identity provider's RS256/ES256 tokens (issuer JWT_JWKS_ISSUER, audience JWT_AUDIENCE)."""

    jwt_secret: SigningSecret
    jwt_issuer: str = "paycore"
    # HS256 with one shared secret is for development; switch it off where an IdP signs.
    jwt_hs256_enabled: bool = True
    jwt_jwks_url: AnyHttpUrl | None = None
    jwt_jwks_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_cache_seconds: int = Field(default=300, gt=0)
    # An unknown kid re-fetches the key set at most this often (tokens naming made-up kids
    # must not make us hammer the provider); providers publish new keys before using them.
    jwt_jwks_refresh_cooldown_seconds: float = Field(default=30, ge=0)

    @model_validator(mode="after")
    def _jwks_complete(self) -> Self:
        if self.jwt_jwks_url is not None and not (self.jwt_jwks_issuer and self.jwt_audience):
            raise ValueError("JWT_JWKS_URL needs JWT_JWKS_ISSUER and JWT_AUDIENCE")
        if self.jwt_jwks_url is None and not self.jwt_hs256_enabled:
            raise ValueError("JWT_HS256_ENABLED=false needs JWT_JWKS_URL (or nobody can log in)")
        return self


KEY_ID = r"[A-Za-z0-9_-]{1,32}"


def _aes256(raw: str, name: str) -> bytes:
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} must be base64") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must be base64 of exactly 32 bytes")
    return key


def parse_key_ring(raw: str) -> dict[str, bytes]:
    """`"k1:<base64>,k0:<base64>"` → key id → 32-byte key; raises ValueError naming a bad entry."""
    keys: dict[str, bytes] = {}
    for entry in raw.split(","):
        if not entry.strip():
            continue
        key_id, sep, value = entry.strip().partition(":")
        if not sep or not re.fullmatch(KEY_ID, key_id):
            raise ValueError("each entry must be <key id>:<base64 of 32 bytes>")
        keys[key_id] = _aes256(value, f"key {key_id}")
    return keys


class EncryptionSettings(BaseServiceSettings):
    """The PII key ring (`paycore.kit.crypto`): the current key seals, old keys only open."""

    # base64 of 32 random bytes; AES-256-GCM for customer PII at rest.
    payment_encryption_key: SecretStr
    payment_encryption_key_id: str = Field(default="k1", pattern=f"^{KEY_ID}$")
    # Keys of earlier rotations, to open what they sealed: "k1:<base64>,k0:<base64>".
    payment_encryption_old_keys: SecretStr = SecretStr("")
    # The HMAC key of look-up hashes (base64 of 32 bytes), independent of the encryption key.
    # Unset: derived from the current encryption key (how hashes were made before key rings);
    # required as soon as there are old keys, or a rotation would change every hash.
    payment_lookup_key: SecretStr | None = None

    @field_validator("payment_encryption_key")
    @classmethod
    def _aes256_key(cls, value: SecretStr) -> SecretStr:
        _aes256(value.get_secret_value(), "the key")
        return value

    @field_validator("payment_encryption_old_keys")
    @classmethod
    def _key_ring(cls, value: SecretStr) -> SecretStr:
        parse_key_ring(value.get_secret_value())
        return value

    @field_validator("payment_lookup_key")
    @classmethod
    def _lookup_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _aes256(value.get_secret_value(), "the key")
        return value

    @model_validator(mode="after")
    def _rotation_keeps_hashes(self) -> Self:
        if self.old_encryption_keys and self.payment_lookup_key is None:
            raise ValueError(
                "PAYMENT_LOOKUP_KEY is required once PAYMENT_ENCRYPTION_OLD_KEYS is set (to keep"
                " existing hashes, set it to `python -m payments_api.rekey legacy-lookup-key`"
                " run with the previous key)"
            )
        return self

    @property
    def encryption_key(self) -> bytes:
        return base64.b64decode(self.payment_encryption_key.get_secret_value())

    @property
    def old_encryption_keys(self) -> dict[str, bytes]:
        return parse_key_ring(self.payment_encryption_old_keys.get_secret_value())

    @property
    def lookup_key(self) -> bytes | None:
        if self.payment_lookup_key is None:
            return None
        return base64.b64decode(self.payment_lookup_key.get_secret_value())


class PayLinkSettings(BaseServiceSettings):
    """Pay links (`paycore.invoices.paylinks`): the payments-api reads them, the payments-api
    and the email-worker issue them. No secret: no pay links."""

    pay_link_secret: SigningSecret | None = None
    pay_link_ttl_seconds: int = Field(default=30 * 86_400, gt=0)
    # The customer's invoice page; `{pay_token}` and `{invoice_number}` are filled in.
    invoice_pay_url: str = ""


class SmtpSettings(BaseServiceSettings):
    smtp_url: str = "smtp://127.0.0.1:1025"
    # STARTTLS on smtp:// is taken only if offered unless required: a man in the middle could
    # strip it and read names and amounts. Unset: required in production (see requires_tls).
    smtp_require_tls: bool | None = None

    @property
    def smtp_tls_required(self) -> bool:
        return self.requires_tls if self.smtp_require_tls is None else self.smtp_require_tls

    email_from: str = "paycore <payments@paycore.local>"
    support_email: str = "support@paycore.local"
    admin_email: str = "ops@paycore.local"


S = TypeVar("S", bound=BaseSettings)


def describe_errors(error: ValidationError) -> list[str]:
    """One line per bad variable, naming it as it is spelled in the environment."""
    lines = []
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "?"
        if item["type"] == "missing":
            lines.append(f"configuration error: {name} is required (or {name}_FILE)")
        elif not item["loc"]:  # a rule across variables: its message names them
            lines.append(f"configuration error: {item['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"configuration error: {name}: {item['msg']}")
    return lines


def load_settings(settings_class: type[S]) -> S:
    """Builds the settings once at start-up; on a bad variable, prints it and exits 2."""
    try:
        return settings_class()
    except ValidationError as exc:
        for line in describe_errors(exc):
            print(line, file=sys.stderr)  # noqa: T201 - logging isn't configured yet
        raise SystemExit(2) from None
    except ValueError as exc:  # an unreadable *_FILE
        print(f"configuration error: {exc}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None
