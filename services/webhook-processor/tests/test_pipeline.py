"""Webhooks from the emulator through the real ingress, broker and processor."""

from paycore.invoices.models import Invoice, InvoiceStatus
from paycore.payments.models import PaymentStatus
from paycore.payments.repository import PaymentRepository
from paycore.webhooks.models import WebhookStatus
from webhook_pipeline import Pipeline, eventually

payments = PaymentRepository()


async def status_of(payment_id: str) -> PaymentStatus:
    payment = await payments.get(payment_id)
    assert payment is not None
    return payment.status


async def test_paying_at_the_emulator_makes_the_payment_success_and_the_invoice_paid(
    pipeline: Pipeline,
) -> None:
    emails = await pipeline.tap("email.exchange")
    payment, session = await pipeline.new_order(amount=12_345)

    await pipeline.emulator.control.pay(session, "SUCCESS")

    async def succeeded() -> bool:
        return await status_of(payment.payment_id) == PaymentStatus.SUCCESS

    await eventually(succeeded)
    stored = await payments.get(payment.payment_id)
    assert stored is not None
    assert stored.captured_amount == 12_345
    assert stored.cf_payment_id is not None

    async def invoice_paid() -> bool:
        # The invoice follows the payment just after it changes.
        invoice = await Invoice.find_one(Invoice.invoice_number == payment.invoice_number)
        return invoice is not None and invoice.status == InvoiceStatus.PAID

    await eventually(invoice_paid)

    async def email_published() -> bool:
        found = await emails.of_type("email.payment.success", payment_id=payment.payment_id)
        return len(found) >= 1

    await eventually(email_published)

    async def log_finished() -> bool:
        # The payment's events go out as soon as it changes; the log is marked done just after.
        found = await pipeline.logs(order_id=payment.order_id)
        return bool(found) and all(log.processed_at and not log.outbox for log in found)

    await eventually(log_finished)
    logs = await pipeline.logs(order_id=payment.order_id)
    assert [log.status for log in logs] == [WebhookStatus.SUCCESS]
    assert logs[0].outcome == "applied"
    assert logs[0].attempts == 1
    assert logs[0].processed_at is not None
    assert logs[0].outbox == []
