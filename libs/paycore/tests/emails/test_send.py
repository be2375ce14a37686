"""The send use case against the real database and a real SMTP server (the sink)."""

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from paycore.emails.composing import Composed, EmailComposer, EmailSettings
from paycore.emails.errors import EmailDataMissing, EmailDeliveryFailed, EmailInFlight
from paycore.emails.models import EmailKind, EmailLog, EmailStatus
from paycore.emails.repository import EmailLogRepository
from paycore.emails.service import RECORD_ALLOWANCE, EmailOutcome, EmailService, Sender
from paycore.emails.transport import SmtpTransport
from paycore.events.payloads import AdminAlertRaised, RefundChanged
from paycore.invoices.models import Invoice, InvoiceClient, InvoiceItem
from paycore.invoices.paylinks import PayLinks
from paycore.invoices.service import summary
from paycore.kit.crypto import FieldCipher, Sealed
from paycore.kit.events import EventEnvelope, OutboxEvent
from paycore.payments.models import Customer, Payment
from paycore.testing import create_payment
from smtp_sink import ReceivedEmail
from smtp_sink.testing import RunningSmtpSink

pytestmark = pytest.mark.usefixtures("email_db")

BUYER = "buyer@example.com"
PAY_LINK_SECRET = "pay-link-test-secret-0123456789abcdef"


def service(
    sink: RunningSmtpSink,
    cipher: FieldCipher,
    *,
    composer: EmailComposer | None = None,
    repository: EmailLogRepository | None = None,
    smtp_timeout: float = 2,
    lease: timedelta = timedelta(seconds=30),
    **settings: Any,
) -> EmailService:
    return EmailService(
        SmtpTransport.from_url(sink.smtp_url, timeout=smtp_timeout),
        composer or EmailComposer(EmailSettings(**settings), cipher),
        Sender("paycore <payments@paycore.local>"),
        cipher=cipher,
        lease=lease,
        repository=repository,
    )


class HeldComposer(EmailComposer):
    """The real composer, stalled before it starts until the test lets it go (a worker whose
    CPU is starved)."""

    def __init__(self, cipher: FieldCipher) -> None:
        super().__init__(EmailSettings(), cipher)
        self.composing = asyncio.Event()
        self.go = asyncio.Event()

    async def compose(self, kind: EmailKind, envelope: EventEnvelope) -> Composed:
        self.composing.set()
        await self.go.wait()
        return await super().compose(kind, envelope)


class HeldSentRecord(EmailLogRepository):
    """The real repository, whose SENT write waits until the test lets it go."""

    def __init__(self) -> None:
        self.recording_sent = asyncio.Event()
        self.go = asyncio.Event()

    async def mark_sent(self, log: EmailLog, changes: Mapping[str, Any]) -> EmailLog | None:
        self.recording_sent.set()
        await self.go.wait()
        return await super().mark_sent(log, changes)


async def paid(cipher: FieldCipher, email: str | None = BUYER, **overrides: Any) -> Payment:
    customer = Customer(
        customer_id="cus_1",
        name=cipher.seal("Asha", "customer.name"),
        email=cipher.seal(email, "customer.email") if email else None,
        email_hash=cipher.lookup_hash(email) if email else None,
        phone=cipher.seal("9999999999", "customer.phone"),
        phone_hash=cipher.lookup_hash("9999999999"),
    )
    return await create_payment(customer=customer, **overrides)


async def issued_invoice(
    cipher: FieldCipher, invoice_number: str, user_id: str, item: InvoiceItem, tax_rate_bps: int
) -> EventEnvelope:
    """An invoice of one item to Ravi Traders, stored; returns its `email.invoice.generated`."""
    tax = item.amount * tax_rate_bps // 10_000
    invoice = Invoice(
        invoice_number=invoice_number,
        user_id=user_id,
        currency="INR",
        issue_date=date(2026, 1, 5),
        due_date=date(2026, 1, 20),
        client=InvoiceClient(
            name="Ravi Traders",
            email=cipher.seal("accounts@ravi.example", "invoice.client.email"),
            email_hash=cipher.lookup_hash("accounts@ravi.example"),
        ),
        items=[item],
        tax_rate_bps=tax_rate_bps,
        subtotal=item.amount,
        tax=tax,
        total=item.amount + tax,
    )
    await invoice.insert()
    return event("email.invoice.generated", summary(invoice))


def event(routing_key: str, data: dict[str, Any]) -> EventEnvelope:
    """The event as its publisher writes it: `data` checked against the key's payload model."""
    return OutboxEvent.of(routing_key, data).envelope


def success_event(payment: Payment) -> EventEnvelope:
    data = {**payment.summary(), "status": "SUCCESS", "previous_status": "PENDING"}
    return event("email.payment.success", data)


async def one_mail(sink: RunningSmtpSink) -> tuple[ReceivedEmail, str]:
    """The one mail the sink received (waiting for it) and its plain-text part, which every
    mail we send has."""
    [mail] = await sink.inbox.wait_for(1)
    assert mail.text is not None
    return mail, mail.text


def refund_event(payment: Payment, amount: int, status: str) -> EventEnvelope:
    """`email.payment.refund` of a refund `rfd_1` of `amount` paise of `payment`."""
    refund = RefundChanged(
        refund_id="rfd_1",
        payment_id=payment.payment_id,
        order_id=payment.order_id,
        user_id=payment.user_id,
        amount=amount,
        currency=payment.currency,
        status=status,
        source="API",
        created_at=datetime.now(UTC).isoformat(),
    )
    return OutboxEvent.of("email.payment.refund", refund).envelope


class TestSendForEvent:
    async def test_payment_success_goes_to_the_customer(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        payment = await paid(cipher, amount=123_456, cf_payment_id="cf_42")
        event = success_event(payment)
        outcome = await service(inbox_cleared, cipher).send_for_event(event)
        assert outcome == EmailOutcome.SENT
        mail, text = await one_mail(inbox_cleared)
        assert mail.rcpt_tos == [BUYER]
        assert mail.subject == "Payment received: ₹1,234.56"
        assert "Hello Asha," in text
        assert "cf_42" in text
        assert mail.html is not None
        assert "₹1,234.56" in mail.html
        assert mail.headers["X-Paycore-Event-Id"] == event.event_id
        log = await EmailLogRepository().get(f"{event.event_id}:payment_success")
        assert log is not None
        assert (log.status, log.attempts, log.recipient) == (
            EmailStatus.SENT,
            1,
            "b***@example.com",
        )
        assert log.message_id == mail.message_id
        assert log.payment_id == payment.payment_id

    async def test_an_event_delivered_three_times_sends_one_email(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        event = success_event(await paid(cipher))
        emails = service(inbox_cleared, cipher)
        outcomes = [await emails.send_for_event(event) for _ in range(3)]
        assert outcomes == [EmailOutcome.SENT, EmailOutcome.DUPLICATE, EmailOutcome.DUPLICATE]
        await asyncio.sleep(0.2)
        assert len(inbox_cleared.inbox.messages()) == 1

    async def test_concurrent_deliveries_send_once_and_ask_the_rest_to_look_again(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        event = success_event(await paid(cipher))
        emails = service(inbox_cleared, cipher)
        results = await asyncio.gather(
            *(emails.send_for_event(event) for _ in range(3)), return_exceptions=True
        )
        assert results.count(EmailOutcome.SENT) == 1
        assert all(
            r in (EmailOutcome.DUPLICATE, EmailOutcome.SENT) or isinstance(r, EmailInFlight)
            for r in results
        )
        await asyncio.sleep(0.2)
        assert len(inbox_cleared.inbox.messages()) == 1

    async def test_no_address_on_file_is_recorded_as_skipped(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        event = success_event(await paid(cipher, email=None))
        emails = service(inbox_cleared, cipher)
        assert await emails.send_for_event(event) == EmailOutcome.SKIPPED
        assert await emails.send_for_event(event) == EmailOutcome.DUPLICATE
        log = await EmailLogRepository().get(f"{event.event_id}:payment_success")
        assert log is not None
        assert (log.status, log.skip_reason) == (EmailStatus.SKIPPED, "no address")
        assert inbox_cleared.inbox.messages() == []

    async def test_smtp_down_fails_retryably_and_the_next_attempt_sends(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        event = success_event(await paid(cipher))
        emails = service(inbox_cleared, cipher)
        inbox_cleared.stop()
        with pytest.raises(EmailDeliveryFailed) as failed:
            await emails.send_for_event(event)
        assert failed.value.retryable
        log = await EmailLogRepository().get(f"{event.event_id}:payment_success")
        assert log is not None
        assert log.status == EmailStatus.FAILED
        assert log.last_error
        inbox_cleared.start()
        assert await emails.send_for_event(event) == EmailOutcome.SENT
        log = await EmailLogRepository().get(f"{event.event_id}:payment_success")
        assert log is not None
        assert (log.status, log.attempts) == (EmailStatus.SENT, 2)
        assert len(await inbox_cleared.inbox.wait_for(1)) == 1

    async def test_a_transient_smtp_refusal_is_retryable(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        event = success_event(await paid(cipher))
        inbox_cleared.inbox.reject_next()
        with pytest.raises(EmailDeliveryFailed):
            await service(inbox_cleared, cipher).send_for_event(event)

    async def test_a_live_claim_of_a_crashed_worker_waits_then_is_taken_over(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        event = success_event(await paid(cipher))
        key = f"{event.event_id}:payment_success"
        crashed = EmailLog(
            key=key,
            event_id=event.event_id,
            event_type=event.type,
            kind="payment_success",
            status=EmailStatus.SENDING,
            attempts=1,
            lease_until=datetime.now(UTC) + timedelta(seconds=60),
        )
        await crashed.insert()
        emails = service(inbox_cleared, cipher)
        with pytest.raises(EmailInFlight):
            await emails.send_for_event(event)
        await EmailLog.get_pymongo_collection().update_one(
            {"key": key}, {"$set": {"lease_until": datetime.now(UTC) - timedelta(seconds=1)}}
        )
        assert await emails.send_for_event(event) == EmailOutcome.SENT

    async def test_failed_payment_email_has_the_reason_and_a_retry_link(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        payment = await paid(cipher, status="FAILED")
        data = {**payment.summary(), "status": "FAILED", "failure_reason": "CARD_DECLINED"}
        failed = event("email.payment.failed", data)
        emails = service(
            inbox_cleared, cipher, payment_retry_url="https://shop.example/pay/{payment_id}"
        )
        await emails.send_for_event(failed)
        _, text = await one_mail(inbox_cleared)
        assert "did not go through: card declined" in text
        assert f"https://shop.example/pay/{payment.payment_id}" in text

    async def test_a_failed_invoice_payment_links_to_its_pay_pages(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        links = PayLinks(PAY_LINK_SECRET)
        payment = await paid(cipher, status="FAILED", invoice_number="INV-RETRY-1")
        loose = await paid(cipher, status="FAILED")
        emails = service(
            inbox_cleared,
            cipher,
            payment_retry_url="https://pay.example/pay/{pay_token}/return",
            pay_links=links,
        )
        for failed in (payment, loose):
            data = {**failed.summary(), "status": "FAILED"}
            await emails.send_for_event(event("email.payment.failed", data))
        mails = await inbox_cleared.inbox.wait_for(2)
        texts = [mail.text or "" for mail in mails]
        [with_link] = [text for text in texts if "https://pay.example/pay/" in text]
        token = with_link.split("https://pay.example/pay/")[1].split("/return")[0]
        link = links.read(token)
        assert (link.user_id, link.invoice_number) == (payment.user_id, "INV-RETRY-1")
        # A payment without an invoice has no pay page: no link rather than a broken one.
        assert sum("Try again" in text for text in texts) == 1

    async def test_refund_email_carries_the_refund_amount(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        payment = await paid(cipher, amount=10_000)
        await service(inbox_cleared, cipher).send_for_event(
            refund_event(payment, amount=4_000, status="SUCCESS")
        )
        mail, text = await one_mail(inbox_cleared)
        assert mail.subject == "Refund processed: ₹40.00"
        assert "within 5-7 working days" in text

    async def test_invoice_email_goes_to_the_client(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        design = InvoiceItem(description="Design", quantity=2, unit_price=50_000, amount=100_000)
        event = await issued_invoice(cipher, "INV-2026-001", "usr_1", design, 1800)
        await service(inbox_cleared, cipher).send_for_event(event)
        mail, text = await one_mail(inbox_cleared)
        assert mail.rcpt_tos == ["accounts@ravi.example"]
        assert mail.subject == "Invoice INV-2026-001: ₹1,180.00 due 2026-01-20"
        assert "Tax (18%): ₹180.00" in text

    async def test_invoice_email_carries_a_signed_pay_link(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        links = PayLinks(PAY_LINK_SECRET)
        design = InvoiceItem(description="Design", quantity=1, unit_price=500, amount=500)
        event = await issued_invoice(cipher, "INV-LINK-1", "usr_9", design, 0)
        emails = service(
            inbox_cleared,
            cipher,
            invoice_pay_url="https://pay.example/pay/{pay_token}",
            pay_links=links,
        )
        await emails.send_for_event(event)
        _, text = await one_mail(inbox_cleared)
        token = text.split("Pay this invoice: https://pay.example/pay/")[1].split()[0]
        assert links.read(token).invoice_number == "INV-LINK-1"

    async def test_admin_alert_goes_to_the_operators(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        alert = AdminAlertRaised(
            alert="webhook_failures", severity="critical", alert_id="alr_1", count=12
        )
        await service(inbox_cleared, cipher, admin_email="ops@example.com").send_for_event(
            OutboxEvent.of("email.admin.alert", alert).envelope
        )
        [mail] = await inbox_cleared.inbox.wait_for(1)
        assert mail.rcpt_tos == ["ops@example.com"]
        assert mail.subject == "[paycore CRITICAL] webhook_failures"

    async def test_an_address_sealed_with_another_key_is_not_sent_and_not_retried(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        payment = await paid(cipher)
        bad = payment.customer.model_copy(
            update={"email": Sealed(key_id="k1", nonce="AAAAAAAAAAAAAAAA", ciphertext="AAAA")}
        )
        await Payment.get_pymongo_collection().update_one(
            {"payment_id": payment.payment_id}, {"$set": {"customer": bad.model_dump()}}
        )
        with pytest.raises(EmailDataMissing) as missing:
            await service(inbox_cleared, cipher).send_for_event(success_event(payment))
        assert not missing.value.retryable

    async def test_an_event_that_does_not_fit_its_payload_model_is_not_sent_nor_retried(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        partial = EventEnvelope(
            type="email.invoice.generated", data={"invoice_number": "INV-1", "user_id": "usr_1"}
        )
        with pytest.raises(EmailDataMissing) as missing:
            await service(inbox_cleared, cipher).send_for_event(partial)
        assert not missing.value.retryable
        assert "total" in str(missing.value)
        assert inbox_cleared.inbox.messages() == []


class TestOneSenderPerEmail:
    """What a redelivery of the event meets while, or after, another delivery sends."""

    async def test_a_cancellation_after_the_server_accepted_still_records_it_sent(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        event = success_event(await paid(cipher))
        record = HeldSentRecord()
        handler = asyncio.create_task(
            service(inbox_cleared, cipher, repository=record).send_for_event(event)
        )
        await record.recording_sent.wait()  # the server said 250
        handler.cancel()  # the broker connection dropped: its channel cancels the handler
        await asyncio.sleep(0.1)
        record.go.set()
        with pytest.raises(asyncio.CancelledError):
            await handler
        log = await EmailLogRepository().get(f"{event.event_id}:payment_success")
        assert log is not None
        assert log.status == EmailStatus.SENT
        redelivered = await service(inbox_cleared, cipher).send_for_event(event)
        assert redelivered == EmailOutcome.DUPLICATE
        assert len(inbox_cleared.inbox.messages()) == 1

    async def test_a_delivery_overtaken_before_its_conversation_sends_nothing(
        self, inbox_cleared: RunningSmtpSink, cipher: FieldCipher
    ) -> None:
        event = success_event(await paid(cipher))
        stalled = HeldComposer(cipher)
        # The shortest claim allowed: a 1 s conversation and the time to record it.
        shortest = timedelta(seconds=1) + RECORD_ALLOWANCE
        first = asyncio.create_task(
            service(
                inbox_cleared, cipher, composer=stalled, smtp_timeout=1, lease=shortest
            ).send_for_event(event)
        )
        await stalled.composing.wait()  # claimed, then stalled (a starved CPU) past its claim
        await asyncio.sleep(shortest.total_seconds() + 0.2)
        # The redelivery of the event takes the expired claim over and sends.
        assert await service(inbox_cleared, cipher).send_for_event(event) == EmailOutcome.SENT
        stalled.go.set()
        with pytest.raises(EmailInFlight):
            await first
        await asyncio.sleep(0.2)
        assert len(inbox_cleared.inbox.messages()) == 1

    def test_a_claim_shorter_than_a_conversation_and_its_record_is_refused(
        self, cipher: FieldCipher
    ) -> None:
        with pytest.raises(ValueError, match="must outlast an SMTP conversation"):
            EmailService(
                SmtpTransport.from_url("smtp://127.0.0.1:1025", timeout=5),
                EmailComposer(EmailSettings(), cipher),
                Sender("paycore <payments@paycore.local>"),
                lease=timedelta(seconds=6),
            )
