"""The audit path: state changes audited in their own write, per-resource hash chains."""

import asyncio

import pytest
from paycore.audit.models import Actor, AuditRecord
from paycore.audit.trail import AuditTrail, sweep_and_verify
from paycore.kit import audit
from paycore.kit.context import bound_ids
from paycore.kit.state import Evidence, finish_audit_drains, guarded_update
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.service import PaymentService
from paycore.testing import create_payment

pytestmark = pytest.mark.usefixtures("domain_db")

ACTOR = Actor(kind="user", id="usr_1", ip="127.0.0.1", user_agent="test")


async def test_concurrent_appends_form_unbroken_chains_per_resource() -> None:
    trail = AuditTrail()
    payments = [await create_payment() for _ in range(3)]
    await asyncio.gather(
        *(
            trail.append(
                ACTOR, "payment.verify", "payment", payments[i % 3].payment_id, after={"n": i}
            )
            for i in range(15)
        )
    )
    assert await trail.verify_chain() == (True, 15)
    chain = await trail.history("payment", payments[0].payment_id)
    assert [record.seq for record in chain] == [1, 2, 3, 4, 5]
    assert [record.prev_hash for record in chain[1:]] == [record.hash for record in chain[:-1]]


async def audited_refunds(*names: str, entries: int = 3) -> list[str]:
    trail = AuditTrail()
    ids = []
    for name in names:
        payment = await create_payment(payment_id=f"pay_{name}")
        ids.append(payment.payment_id)
        for i in range(entries):
            await trail.append(
                ACTOR, "payment.verify", "payment", payment.payment_id, after={"n": i}
            )
    return ids


async def test_a_changed_record_breaks_its_chain_only() -> None:
    changed, _ = await audited_refunds("a", "b")
    await AuditRecord.get_pymongo_collection().update_one(
        {"resource_id": changed, "seq": 2}, {"$set": {"after": {"n": 999}}}
    )
    broken, _ = await AuditTrail().broken_chains()
    assert broken == [f"payment:{changed}"]


async def test_a_removed_last_record_breaks_the_chain() -> None:
    [payment_id] = await audited_refunds("c")
    await AuditRecord.get_pymongo_collection().delete_one({"resource_id": payment_id, "seq": 3})
    broken, _ = await AuditTrail().broken_chains()
    assert broken == [f"payment:{payment_id}"]


async def test_a_removed_head_breaks_the_chain() -> None:
    [payment_id] = await audited_refunds("d")
    await Payment.get_pymongo_collection().update_one(
        {"_id": payment_id}, {"$unset": {audit.HEAD: ""}}
    )
    broken, _ = await AuditTrail().broken_chains()
    assert broken == [f"payment:{payment_id}"]


async def test_a_record_written_before_its_head_moved_is_not_a_break() -> None:
    [payment_id] = await audited_refunds("e", entries=2)
    collection = Payment.get_pymongo_collection()
    # A drain that wrote the record and stopped before moving the head.
    entry = audit.new_entry("payment.update", after={"n": 3})
    stored = await collection.find_one_and_update(
        {"_id": payment_id}, {"$push": {audit.PENDING: entry}}, return_document=True
    )
    head = stored[audit.HEAD]
    await AuditRecord.get_pymongo_collection().insert_one(
        audit._chained("payment", payment_id, entry, head)
    )
    assert await AuditTrail().broken_chains() == ([], 3)
    await audit.drain(collection, payment_id)  # the next drain adopts the record
    assert await AuditTrail().verify_chain() == (True, 3)
    assert len(await AuditTrail().history("payment", payment_id)) == 3


async def test_a_state_change_is_audited_with_before_after_actor_and_ids() -> None:
    payment = await create_payment(status=PaymentStatus.PENDING)
    audit.acting_as("service", "webhook-processor")
    with bound_ids("req_1", "corr_1", "a" * 32):
        await PaymentService().transition(
            payment.payment_id,
            PaymentStatus.SUCCESS,
            Evidence(source="webhook", reference="whk_1"),
            changes={"captured_amount": 10_000},
        )
    await finish_audit_drains()
    [record] = await AuditTrail().history("payment", payment.payment_id)
    assert record.action == "payment.success"
    assert record.actor.model_dump(exclude_none=True) == {
        "kind": "service",
        "id": "webhook-processor",
    }
    assert record.before == {"status": "PENDING", "version": 0}
    assert record.after is not None
    assert (record.after["status"], record.after["captured_amount"]) == ("SUCCESS", 10_000)
    assert record.evidence is not None
    assert (record.evidence["source"], record.evidence["reference"]) == ("webhook", "whk_1")
    assert (record.request_id, record.trace_id) == ("req_1", "a" * 32)
    stored = await Payment.get_pymongo_collection().find_one({"_id": payment.payment_id})
    assert stored is not None
    assert stored[audit.PENDING] == []


async def test_entries_a_crash_left_pending_are_swept_into_the_chain_once() -> None:
    payment = await create_payment()
    collection = Payment.get_pymongo_collection()
    entry = audit.new_entry("payment.update", after={"note": "written before a crash"})
    # The write happened, the drain did not (the process died in between).
    await collection.update_one(
        {"_id": payment.payment_id},
        audit.pending_update(collection, {"$inc": {"version": 1}}, entry),
    )
    # Two drains at once (a writer and the reconciler's sweep) append the entry once.
    await asyncio.gather(audit.drain(collection, payment.payment_id), audit.sweep(collection))
    broken, checked = await sweep_and_verify()
    assert (broken, checked) == ([], 1)
    [record] = await AuditTrail().history("payment", payment.payment_id)
    assert record.entry_id == entry["entry_id"]


async def test_a_guard_with_query_operators_is_recorded_as_plain_keys() -> None:
    payment = await create_payment(status=PaymentStatus.PENDING)
    collection = Payment.get_pymongo_collection()
    updated = await guarded_update(
        collection,
        payment.payment_id,
        version=0,
        where={"failed_attempts": {"$ne": "cf_1"}},
        push={"failed_attempts": "cf_1"},
        set_fields={"metadata.note": "x"},
    )
    assert updated is not None
    await finish_audit_drains()
    [record] = await AuditTrail().history("payment", payment.payment_id)
    assert record.before == {"failed_attempts": {"op_ne": "cf_1"}, "version": 0}
    assert record.after is not None
    assert record.after["metadata/note"] == "x"


async def test_an_action_on_a_resource_without_an_audited_document_has_its_own_chain() -> None:
    trail = AuditTrail()
    operator = Actor(kind="operator", id="ops@paycore.local")
    for note in ("checked", "resolved"):
        await trail.append(
            operator,
            "reconciliation.resolved",
            "reconciliation_item",
            "AMOUNT:ord_1",
            after={"note": note},
        )
    chain = await trail.history("reconciliation_item", "AMOUNT:ord_1")
    assert [record.after for record in chain] == [{"note": "checked"}, {"note": "resolved"}]
    assert await trail.verify_chain() == (True, 2)
