import base64
import uuid
from datetime import date

import pytest
from paycore.audit.trail import AuditTrail
from paycore.invoices.errors import InvoiceAlreadyExists, InvoiceNotFound, InvoiceTotalsMismatch
from paycore.invoices.models import Invoice, InvoiceStatus
from paycore.invoices.service import ClientDetails, DraftItem, InvoiceDraft, InvoiceService
from paycore.kit.crypto import cipher_from
from paycore.kit.ids import new_id
from paycore.kit.mongo import connect_mongo, mongo_client
from paycore.kit.state import Evidence, finish_audit_drains
from paycore.payments.models import PaymentStatus
from paycore.payments.repository import PaymentRepository
from paycore.payments.service import PaymentService
from paycore.refunds.service import RefundService
from paycore.testing import create_payment, isolated_settings

pytestmark = pytest.mark.usefixtures("domain_db")

CIPHER = cipher_from(base64.b64decode(base64.b64encode(b"z" * 32)), "k1")


def draft(number: str | None = None, **overrides: object) -> InvoiceDraft:
    values: dict[str, object] = {
        "invoice_number": number or "INV-" + uuid.uuid4().hex[:8],
        "currency": "INR",
        "issue_date": date(2026, 1, 1),
        "due_date": date(2026, 1, 31),
        "client": ClientDetails("Acme", "billing@acme.example", "9000000000", "1 Road"),
        "items": [DraftItem("Thing", 2, 1_000)],
        "tax_rate_bps": 1_800,
    }
    values.update(overrides)
    return InvoiceDraft(**values)  # type: ignore[arg-type]


class TestCreate:
    async def test_stores_totals_and_sealed_contact(self) -> None:
        service = InvoiceService(CIPHER)
        invoice, created = await service.create("usr_1", draft())
        assert created
        assert (invoice.subtotal, invoice.tax, invoice.total) == (2_000, 360, 2_360)
        stored = await service.get_for("usr_1", invoice.invoice_number)
        assert stored.issue_date == date(2026, 1, 1)
        assert service.contact(stored).email == "billing@acme.example"
        assert stored.client.email_hash == CIPHER.lookup_hash("Billing@Acme.example ")
        assert [e.envelope.type for e in stored.outbox] == ["email.invoice.generated"]

    async def test_item_amount_must_match(self) -> None:
        with pytest.raises(InvoiceTotalsMismatch):
            await InvoiceService(CIPHER).create(
                "usr_1", draft(items=[DraftItem("Thing", 2, 1_000, amount=1_999)])
            )

    async def test_same_request_gets_the_invoice_back_anything_else_conflicts(self) -> None:
        service = InvoiceService(CIPHER)
        first, _ = await service.create("usr_1", draft("INV-SAME-1"), request_fingerprint="fp")
        again, created = await service.create(
            "usr_1", draft("INV-SAME-1"), request_fingerprint="fp"
        )
        assert not created
        assert again.invoice_number == first.invoice_number
        with pytest.raises(InvoiceAlreadyExists):
            await service.create("usr_1", draft("INV-SAME-1"), request_fingerprint="other")
        # Numbers are per issuing user: another merchant user may use the same one.
        other, created = await service.create(
            "usr_2", draft("INV-SAME-1"), request_fingerprint="fp"
        )
        assert created
        assert other.user_id == "usr_2"
        assert (await service.get_for("usr_1", "INV-SAME-1")).id == first.id
        # An admin can't tell which one is meant: not found, rather than either.
        with pytest.raises(InvoiceNotFound):
            await service.get_for("ops", "INV-SAME-1", admin=True)

    async def test_others_invoices_are_not_found(self) -> None:
        service = InvoiceService(CIPHER)
        invoice, _ = await service.create("usr_1", draft())
        with pytest.raises(InvoiceNotFound):
            await service.get_for("usr_2", invoice.invoice_number)
        assert (await service.get_for("ops", invoice.invoice_number, admin=True)).user_id == "usr_1"


class TestAttach:
    async def test_repointing_to_a_new_payment_lets_its_status_through(self) -> None:
        service = InvoiceService(CIPHER)
        invoice, _ = await service.create("usr_1", draft())
        failed = await create_payment(
            status=PaymentStatus.FAILED,
            invoice_number=invoice.invoice_number,
            version=5,
            user_id="usr_1",
        )
        assert await service.attach_payment(invoice, failed.payment_id, None)
        await PaymentRepository().sync_invoice(failed)
        paid = await create_payment(
            invoice_number=invoice.invoice_number, version=1, user_id="usr_1"
        )
        current = await service.get_for("usr_1", invoice.invoice_number)
        assert not await service.attach_payment(current, paid.payment_id, None)  # lost race
        assert await service.attach_payment(current, paid.payment_id, failed.payment_id)
        assert await PaymentRepository().sync_invoice(paid)
        assert (await service.get_for("usr_1", invoice.invoice_number)).status == InvoiceStatus.PAID


async def test_the_retired_global_number_index_is_dropped_at_start() -> None:
    # A database from before numbers were per user has a unique index on the number alone,
    # which would keep refusing a second user's number.
    settings = isolated_settings()
    client = mongo_client(settings)
    collection = client[settings.mongo_db]["invoices"]
    await collection.create_index("invoice_number", name="invoice_number_unique", unique=True)
    try:
        await connect_mongo(settings, [Invoice])
        names = {index["name"] async for index in await collection.list_indexes()}
        assert "invoice_number_unique" not in names
        assert "user_invoice_number_unique" in names
    finally:
        await client.drop_database(settings.mongo_db)
        await client.close()


class TestKeptInStepByThePaymentWrites:
    """No caller syncs the invoice: every payment write does (and a repeat repairs it)."""

    async def _invoice_with_payment(self, status: PaymentStatus) -> tuple[str, str]:
        service = InvoiceService(CIPHER)
        invoice, _ = await service.create("usr_1", draft())
        payment = await create_payment(
            status=status, invoice_number=invoice.invoice_number, user_id="usr_1"
        )
        assert await service.attach_payment(invoice, payment.payment_id, None)
        return invoice.invoice_number, payment.payment_id

    async def _status(self, number: str) -> InvoiceStatus:
        return (await InvoiceService(CIPHER).get_for("usr_1", number)).status

    async def test_a_payment_paid_by_a_webhook_pays_its_invoice(self) -> None:
        number, payment_id = await self._invoice_with_payment(PaymentStatus.PENDING)
        outcome = await PaymentService().transition(
            payment_id, PaymentStatus.SUCCESS, Evidence(source="webhook")
        )
        assert outcome.changed
        assert await self._status(number) == InvoiceStatus.PAID
        # The state change is audited by the same write, on the payment and on the invoice.
        await finish_audit_drains()
        actions = {r.action for r in await AuditTrail().history("payment", payment_id)}
        assert "payment.success" in actions
        invoice_key = (await InvoiceService(CIPHER).get_for("usr_1", number)).invoice_key
        invoice_actions = {r.action for r in await AuditTrail().history("invoice", invoice_key)}
        assert "invoice.paid" in invoice_actions

    async def test_a_refund_reservation_marks_the_invoice_refund_initiating(self) -> None:
        number, payment_id = await self._invoice_with_payment(PaymentStatus.SUCCESS)
        payment = await PaymentService().get(payment_id)
        await RefundService().request(
            payment, amount=1_000, reason=None, user_id="usr_1", idempotency_key=new_id("k")
        )
        assert await self._status(number) == InvoiceStatus.REFUND_INITIATING

    async def test_a_repeat_repairs_an_invoice_left_behind(self) -> None:
        # A crash between the payment's write and its invoice's leaves the invoice UNPAID.
        number, payment_id = await self._invoice_with_payment(PaymentStatus.SUCCESS)
        assert await self._status(number) == InvoiceStatus.UNPAID
        outcome = await PaymentService().transition(
            payment_id, PaymentStatus.SUCCESS, Evidence(source="webhook")
        )
        assert (outcome.changed, outcome.reason) == (False, "duplicate")
        assert await self._status(number) == InvoiceStatus.PAID
