from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from paycore.emails.composing import EmailComposer, EmailSettings
from paycore.emails.models import EmailLog
from paycore.emails.service import EmailService, Sender
from paycore.emails.transport import SmtpTransport
from paycore.invoices.models import Invoice
from paycore.invoices.paylinks import pay_links_from
from paycore.kit.crypto import cipher_for
from paycore.kit.http import create_app
from paycore.kit.service import Resources
from paycore.payments.models import Payment
from starlette.applications import Starlette

from email_worker.settings import Settings
from email_worker.subscribers import EmailSubscriber

# Readiness requires only what this service cannot work without: it consumes the broker and
# records sends in the database.
READY = ("database", "queues")

CONSUMER = "email-worker.emails"


def build_email_service(settings: Settings) -> EmailService:
    cipher = cipher_for(settings)
    composer = EmailComposer(
        EmailSettings(
            brand=settings.email_brand,
            support_email=settings.support_email,
            admin_email=settings.admin_email,
            payment_retry_url=settings.payment_retry_url,
            invoice_pay_url=settings.invoice_pay_url,
            pay_links=pay_links_from(settings),
            refund_expected_time=settings.refund_expected_time,
        ),
        cipher,
    )
    return EmailService(
        SmtpTransport.from_url(
            settings.smtp_url,
            timeout=settings.smtp_timeout_seconds,
            require_tls=settings.smtp_tls_required,
        ),
        composer,
        Sender(settings.email_from),
        cipher=cipher,
        lease=timedelta(seconds=settings.email_claim_seconds),
    )


def build_app(settings: Settings) -> Starlette:
    resources = Resources(settings, models=[Payment, Invoice, EmailLog])
    consumer = resources.consumer(CONSUMER, "email.exchange", ("email.#",))
    subscriber = EmailSubscriber(build_email_service(settings), len(settings.retry_delays_ms))
    consumer.subscribe(subscriber.handle)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with resources.running():
            app.state.resources = resources
            yield

    return create_app(settings, [], lifespan=lifespan, checks=resources.checks(), ready=READY)
