"""The payments-api app: routes, edge middleware, and the services built at start-up."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from paycore.alerts import AdminAlert
from paycore.audit.models import AuditRecord
from paycore.audit.trail import AuditTrail
from paycore.auth.api_keys import ApiKeyService
from paycore.auth.models import ApiKey
from paycore.auth.tokens import JwksVerifier, VerifiedTokens
from paycore.fraud.models import FraudSignal
from paycore.fraud.screening import FraudScreen, FraudThresholds, Limit
from paycore.gateway.cashfree import CashfreeGateway
from paycore.idempotency.store import IdempotencyStore
from paycore.invoices.models import Invoice
from paycore.invoices.paylinks import pay_links_from
from paycore.invoices.service import InvoiceService
from paycore.kit.crypto import cipher_for
from paycore.kit.http import create_app
from paycore.kit.service import Resources
from paycore.payments.checkout import Checkout
from paycore.payments.creation import PaymentCreator
from paycore.payments.models import Payment, Transaction
from paycore.payments.service import PaymentService
from paycore.reconciliation.models import ReconciliationItem, ReconciliationRun
from paycore.refunds.models import Refund
from paycore.refunds.requests import RefundRequests
from paycore.refunds.service import RefundService
from paycore.webhooks.models import WebhookLog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from payments_api.api import DEVICE_HEADER, IDEMPOTENCY_HEADER, REPLAYED_HEADER, Api
from payments_api.endpoints import api_routes
from payments_api.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from payments_api.openapi import openapi_route
from payments_api.ratelimit import RateLimiter
from payments_api.routes.payments import amount_check
from payments_api.settings import Settings

# Readiness requires only what this service cannot work without: events wait in the outbox while
# the broker is down; idempotency and rate limits need Redis.
READY = ("database", "redis")

MODELS = [
    ApiKey,
    Payment,
    Transaction,
    Refund,
    Invoice,
    AuditRecord,
    FraudSignal,
    AdminAlert,
    ReconciliationRun,  # read by the admins' operational view
    ReconciliationItem,
    WebhookLog,  # dead letters, for the same view
]
OUTBOXES = [Payment, Refund, Invoice, FraudSignal, AdminAlert]


def fraud_thresholds(settings: Settings) -> FraudThresholds:
    return FraudThresholds(
        window_seconds=settings.fraud_window_seconds,
        velocity={
            "user": Limit(settings.fraud_review_per_user, settings.fraud_block_per_user),
            "ip": Limit(settings.fraud_review_per_ip, settings.fraud_block_per_ip),
            "email": Limit(settings.fraud_review_per_email, settings.fraud_block_per_email),
            "device": Limit(settings.fraud_review_per_device, settings.fraud_block_per_device),
        },
        failure_window_seconds=settings.fraud_failure_window_seconds,
        failures=Limit(settings.fraud_review_failures, settings.fraud_block_failures),
        review_amount=settings.fraud_review_amount,
    )


def build_api(settings: Settings, resources: Resources, gateway: CashfreeGateway) -> Api:
    assert resources.redis is not None
    redis = resources.redis
    prefix = settings.redis_prefix
    cipher = cipher_for(settings)
    fraud = FraudScreen(redis, fraud_thresholds(settings), prefix=prefix)
    # A failed attempt counts in the repeated-failures check whichever path noted it.
    payments = PaymentService(on_attempt_failed=fraud.attempt_failed)
    invoices = InvoiceService(cipher)
    creator = PaymentCreator(
        gateway,
        cipher,
        payments,
        notify_url=settings.payment_notify_url,
        order_expiry=timedelta(seconds=settings.order_expiry_seconds),
    )
    audit = AuditTrail()
    refunds = RefundService(payments)
    return Api(
        settings=settings,
        resources=resources,
        gateway=gateway,
        cipher=cipher,
        payments=payments,
        refunds=refunds,
        refund_requests=RefundRequests(refunds, audit),
        invoices=invoices,
        creator=creator,
        checkout=Checkout(
            creator, invoices, fraud, check_amount=amount_check(settings), audit=audit
        ),
        audit=audit,
        idempotency=IdempotencyStore(
            redis,
            prefix=prefix,
            ttl_seconds=settings.idempotency_ttl_seconds,
            in_flight_seconds=settings.idempotency_in_flight_seconds,
        ),
        fraud=fraud,
        limiter=RateLimiter(
            redis,
            prefix=prefix,
            per_user=settings.rate_limit_user_per_minute,
            per_ip=settings.rate_limit_ip_per_minute,
        ),
        pay_links=pay_links_from(settings),
        api_keys=ApiKeyService(),
        jwks=jwks_verifier(settings),
        hs256=VerifiedTokens(settings.jwt_secret.get_secret_value(), issuer=settings.jwt_issuer),
    )


def jwks_verifier(settings: Settings) -> JwksVerifier | None:
    if settings.jwt_jwks_url is None:
        return None
    assert settings.jwt_jwks_issuer is not None
    assert settings.jwt_audience is not None
    return JwksVerifier(
        str(settings.jwt_jwks_url),
        issuer=settings.jwt_jwks_issuer,
        audience=settings.jwt_audience,
        cache_seconds=settings.jwt_jwks_cache_seconds,
        refresh_cooldown_seconds=settings.jwt_jwks_refresh_cooldown_seconds,
    )


def build_app(settings: Settings) -> Starlette:
    resources = Resources(settings, models=MODELS, outboxes=OUTBOXES)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with resources.running(), CashfreeGateway(settings) as gateway:
            app.state.api = build_api(settings, resources, gateway)
            yield

    return create_app(
        settings,
        [*api_routes(), openapi_route],
        lifespan=lifespan,
        checks=resources.checks(),
        ready=READY,
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_allow_list,
                allow_methods=["GET", "POST"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    IDEMPOTENCY_HEADER,
                    "x-request-id",
                    DEVICE_HEADER,
                ],
                expose_headers=[REPLAYED_HEADER, "Retry-After", "X-Request-Id"],
                max_age=600,
            ),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
    )
