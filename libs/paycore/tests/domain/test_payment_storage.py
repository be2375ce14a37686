"""A new payment is inserted from pydantic's own dump (`stored_form`), not Beanie's encoder:
the stored document must be the one Beanie would have stored, byte for byte."""

import bson
from beanie.odm.utils.dump import get_dict
from paycore.kit.crypto import FieldCipher
from paycore.kit.service import InfraSettings
from paycore.kit.state import Evidence, TransitionRecord, stored_form
from paycore.payments.creation import CustomerDetails, PaymentCreator
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.repository import PaymentRepository
from paycore.payments.service import payment_events


def a_new_payment() -> Payment:
    creator = PaymentCreator(gateway=None, cipher=FieldCipher({"k1": b"k" * 32}, "k1"))  # type: ignore[arg-type]
    payment = Payment(
        payment_id="pay_storage_1",
        order_id="ord_storage_1",
        user_id="usr_1",
        idempotency_key="key_1",
        request_fingerprint="f" * 64,
        amount=10_000,
        currency="INR",
        customer=creator._seal(CustomerDetails(phone="9876543210", name="Asha", email="a@x.in")),
        invoice_number="INV-1",
        metadata={"cart": "c_1"},
        risk_flags=["user_velocity"],
    )
    # Every kind of field filled, as later writes fill them.
    payment.history = [
        TransitionRecord(from_status=None, to_status="CREATED", evidence=Evidence(source="api"))
    ]
    payment.outbox = payment_events(payment, PaymentStatus.PENDING)
    return payment


def test_the_plain_dump_is_the_document_beanie_would_store(domain_db: InfraSettings) -> None:
    payment = a_new_payment()
    beanie_form = get_dict(payment, to_db=True, keep_nulls=payment.get_settings().keep_nulls)
    assert bson.encode(stored_form(payment)) == bson.encode(beanie_form)


async def test_an_inserted_payment_reads_back_as_itself(domain_db: InfraSettings) -> None:
    payment = a_new_payment()
    await PaymentRepository().insert(payment)
    stored = await PaymentRepository().get(payment.payment_id)
    assert stored is not None
    # Dates are stored to the millisecond: compare the rest.
    dated = {"created_at", "updated_at", "history", "outbox", "recheck"}
    assert stored.model_dump(exclude=dated) == payment.model_dump(exclude=dated)
