"""The deployables and what each needs: one table shared by the Dockerfile template and checks."""

from __future__ import annotations

from dataclasses import dataclass, field

# What every service reads; those with stores (all but the web pages) read COMMON_ENV.
SERVICE_ENV = ("APP_ENV", "PORT", "HOST", "LOG_LEVEL", "PROMETHEUS_ENABLED", "SERVICE_NAME")
COMMON_ENV = (
    *SERVICE_ENV,
    "MONGO_URI",
    "MONGO_DB",
    "REDIS_URL",
    "RABBITMQ_URL",
    "RETRY_DELAYS_MS",
)
CASHFREE_API_ENV = (
    "CASHFREE_APP_ID",
    "CASHFREE_SECRET_KEY",
    "CASHFREE_ENV",
    "CASHFREE_BASE_URL",
    "CASHFREE_API_VERSION",
)
# Variables whose values are secrets: k8s must take them from a Secret (`secretKeyRef`).
SECRET_ENV = frozenset(
    {
        "MONGO_URI",
        "REDIS_URL",
        "RABBITMQ_URL",
        "CASHFREE_APP_ID",
        "CASHFREE_SECRET_KEY",
        "CASHFREE_WEBHOOK_SECRET",
        "JWT_SECRET",
        "PAYMENT_ENCRYPTION_KEY",
        "PAYMENT_ENCRYPTION_OLD_KEYS",
        "PAYMENT_LOOKUP_KEY",
        "SMTP_URL",
        "PAY_LINK_SECRET",
        "WEB_SESSION_SECRET",
    }
)
# Development-only settings that production manifests never carry.
COMPOSE_ONLY_ENV = frozenset({"CASHFREE_BASE_URL"})


@dataclass(frozen=True)
class Deployable:
    name: str  # folder, project and console-script name
    import_name: str
    port: int
    source_dir: str  # inside the repo
    env: tuple[str, ...] = field(default=())
    in_k8s: bool = True
    # Talks to MongoDB, Redis and RabbitMQ (the web pages talk to the payments-api only).
    uses_stores: bool = True

    @property
    def dockerfile(self) -> str:
        return f"{self.source_dir}/Dockerfile"


SERVICES: tuple[Deployable, ...] = (
    Deployable(
        "payments-api",
        "payments_api",
        8000,
        "services/payments-api",
        (
            *COMMON_ENV,
            *CASHFREE_API_ENV,
            "JWT_SECRET",
            "PAYMENT_ENCRYPTION_KEY",
            "CORS_ORIGINS",
            "PAY_LINK_SECRET",
            "INVOICE_PAY_URL",
        ),
    ),
    Deployable(
        "webhook-ingress",
        "webhook_ingress",
        8001,
        "services/webhook-ingress",
        (*COMMON_ENV, "CASHFREE_WEBHOOK_SECRET", "WEBHOOK_TOLERANCE_MS", "PAYMENT_ENCRYPTION_KEY"),
    ),
    Deployable(
        "webhook-processor",
        "webhook_processor",
        9101,
        "services/webhook-processor",
        (*COMMON_ENV, *CASHFREE_API_ENV, "PAYMENT_ENCRYPTION_KEY"),
    ),
    Deployable(
        "refund-worker",
        "refund_worker",
        9102,
        "services/refund-worker",
        (*COMMON_ENV, *CASHFREE_API_ENV),
    ),
    Deployable(
        "email-worker",
        "email_worker",
        9103,
        "services/email-worker",
        (
            *COMMON_ENV,
            "SMTP_URL",
            "EMAIL_FROM",
            "SUPPORT_EMAIL",
            "ADMIN_EMAIL",
            "PAY_LINK_SECRET",
            "INVOICE_PAY_URL",
            "PAYMENT_RETRY_URL",
        ),
    ),
    Deployable(
        "reconciler",
        "reconciler",
        9104,
        "services/reconciler",
        (*COMMON_ENV, *CASHFREE_API_ENV),
    ),
    Deployable(
        "web",
        "paycore_web",
        8080,
        "services/web",
        (
            *SERVICE_ENV,
            "PAYMENTS_API_URL",
            "WEB_PUBLIC_URL",
            "WEB_SESSION_SECRET",
            "CHECKOUT_MODE",
            "CHECKOUT_ORIGINS",
        ),
        uses_stores=False,
    ),
)
EMULATOR = Deployable(
    "cashfree-emulator",
    "cashfree_emulator",
    8090,
    "infra/cashfree-emulator",
    in_k8s=False,
)
DEPLOYABLES: tuple[Deployable, ...] = (*SERVICES, EMULATOR)
# The webhook ingress holds the webhook secret only, never the API credentials.
INGRESS_FORBIDDEN_ENV = frozenset({"CASHFREE_APP_ID", "CASHFREE_SECRET_KEY", "JWT_SECRET"})

# Every workspace member's pyproject.toml: `uv sync --locked` needs all of them to check the lock.
WORKSPACE_PYPROJECTS = (
    "libs/paycore/pyproject.toml",
    *(f"{service.source_dir}/pyproject.toml" for service in SERVICES),
    "infra/cashfree-emulator/pyproject.toml",
    "infra/smtp-sink/pyproject.toml",
    "tests-e2e/pyproject.toml",
)
