"""The refund-worker on the real broker and database against the Cashfree emulator."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from cashfree_emulator.testing import RunningEmulator
from paycore.alerts import AdminAlert
from paycore.audit.models import AuditRecord
from paycore.audit.trail import AuditTrail
from paycore.gateway import CashfreeGateway, GatewayRefundStatus
from paycore.invoices.models import InvoiceStatus
from paycore.kit.events import OutboxEvent
from paycore.kit.service import Resources
from paycore.kit.state import Evidence, finish_audit_drains
from paycore.payments.models import Payment, PaymentStatus
from paycore.payments.service import PaymentService
from paycore.refunds.execution import RefundExecutor
from paycore.refunds.models import Refund
from paycore.refunds.models import RefundStatus as R
from paycore.refunds.service import RefundService
from paycore.testing import eventually, request_refund, unique_suffix
from prometheus_client import REGISTRY
from refund_worker.settings import Settings
from refund_worker_rig import Spy, invoice_of, paid_payment, running_worker, worker_settings


@dataclass
class Worker:
    settings: Settings
    resources: Resources
    spy: Spy
    emu: RunningEmulator


@pytest.fixture
async def worker(emu: RunningEmulator) -> AsyncIterator[Worker]:
    await emu.control.reset()
    settings = worker_settings(emu)
    async with running_worker(settings) as (resources, spy):
        yield Worker(settings, resources, spy, emu)


async def refund_reaches(refund_id: str, status: R, timeout: float = 10.0) -> Refund:
    service = RefundService()

    async def reached() -> bool:
        return (await service.get(refund_id)).status == status

    await eventually(reached, timeout)
    return await service.get(refund_id)


async def settled(payment_id: str, invoice_status: InvoiceStatus) -> Payment:
    """The payment once its invoice shows `invoice_status` (the last step of applying)."""
    payment = await PaymentService().get(payment_id)

    async def invoice_moved() -> bool:
        return (await invoice_of(payment)).status == invoice_status

    await eventually(invoice_moved)
    return await PaymentService().get(payment_id)


async def held_pending_at_the_gateway(worker: Worker, amount: int) -> tuple[Payment, Refund]:
    """A paid payment and a refund of `amount` paise the worker submitted, which the gateway
    holds PENDING until the test resolves it (`control.resolve_refund`)."""
    payment = await paid_payment(worker.emu, worker.settings)
    await worker.emu.control.refund_fault("stays_pending")
    refund = await request_refund(payment.payment_id, amount)

    async def submitted() -> bool:
        return (await RefundService().get(refund.refund_id)).gateway_status == "PENDING"

    await eventually(submitted)
    return payment, refund


async def audit_records() -> list[AuditRecord]:
    cursor = AuditRecord.get_pymongo_collection().find({})
    return [AuditRecord.model_validate(raw) async for raw in cursor]


async def gateway_refunds(worker: Worker, order_id: str) -> list[GatewayRefundStatus]:
    async with CashfreeGateway(worker.settings) as gateway:
        return [refund.status for refund in await gateway.list_refunds(order_id)]


async def executed_creates(emu: RunningEmulator) -> int:
    """create_refund calls the emulator carried out (not replays of a stored answer)."""
    calls = await emu.control.calls(operation="create_refund")
    return sum(1 for call in calls if call.status == 200 and not call.replayed)


class TestRefundFlow:
    async def test_partial_refund_then_the_rest_ends_refunded(self, worker: Worker) -> None:
        payment = await paid_payment(worker.emu, worker.settings, 10_000)
        first = await request_refund(payment.payment_id, 4_000)
        await refund_reaches(first.refund_id, R.SUCCESS)
        partly = await settled(payment.payment_id, InvoiceStatus.PARTIALLY_REFUNDED)
        assert (partly.status, partly.refunded_amount) == (PaymentStatus.PARTIALLY_REFUNDED, 4_000)

        rest = await request_refund(payment.payment_id, None)
        assert rest.amount == 6_000
        await refund_reaches(rest.refund_id, R.SUCCESS)
        done = await settled(payment.payment_id, InvoiceStatus.REFUNDED)
        assert done.status == PaymentStatus.REFUNDED
        assert (done.refunded_amount, done.refund_reserved_amount, done.refundable_amount) == (
            10_000,
            0,
            0,
        )
        assert (
            await gateway_refunds(worker, payment.order_id) == [GatewayRefundStatus.SUCCEEDED] * 2
        )

        async def events_out() -> bool:
            return len(await worker.spy.events("email.payment.refund")) == 2

        await eventually(events_out)
        emails = await worker.spy.events("email.payment.refund")
        assert sorted((e.data["amount"], e.data["status"]) for e in emails) == [
            (4_000, "SUCCESS"),
            (6_000, "SUCCESS"),
        ]
        assert len(await worker.spy.events("payment.refunded")) == 2
        assert len(await worker.spy.events("refund.succeeded")) == 2
        assert len(await worker.spy.events("analytics.refund.created")) == 2

    async def test_money_movements_are_audited_by_the_worker(self, worker: Worker) -> None:
        payment = await paid_payment(worker.emu, worker.settings, 5_000)
        refund = await request_refund(payment.payment_id, 5_000)
        observed = REGISTRY.get_sample_value(
            "paycore_refund_duration_seconds_count", {"outcome": "SUCCESS"}
        )
        await refund_reaches(refund.refund_id, R.SUCCESS)
        expected = {
            ("refund.success", refund.refund_id),
            ("payment.refund_reserved", payment.payment_id),
            ("refund.processing", refund.refund_id),
            ("payment.refunded", payment.payment_id),
        }

        async def audited() -> bool:
            return expected <= {(r.action, r.resource_id) for r in await audit_records()}

        await eventually(audited)
        await finish_audit_drains()
        records = await audit_records()
        assert all(r.actor.kind == "service" for r in records)
        assert await AuditTrail().verify_chain() == (True, len(records))
        after = REGISTRY.get_sample_value(
            "paycore_refund_duration_seconds_count", {"outcome": "SUCCESS"}
        )
        assert (after or 0) - (observed or 0) == 1


class TestOutcomeUnknown:
    async def test_lost_create_answer_finds_the_refund_instead_of_making_another(
        self, worker: Worker
    ) -> None:
        payment = await paid_payment(worker.emu, worker.settings)
        # Executed at the gateway, but the answer never arrives; the client's own look-up
        # times out too: the worker only knows the outcome is unknown.
        await worker.emu.control.hold_next_calls("lose", 1.0, operation="create_refund", count=2)
        await worker.emu.control.hold_next_calls("hang", 1.0, operation="get_refund", count=2)
        refund = await request_refund(payment.payment_id, 2_500)
        await refund_reaches(refund.refund_id, R.SUCCESS, timeout=15)
        assert await executed_creates(worker.emu) == 1
        assert await gateway_refunds(worker, payment.order_id) == [GatewayRefundStatus.SUCCEEDED]
        stored = await settled(payment.payment_id, InvoiceStatus.PARTIALLY_REFUNDED)
        assert (stored.refunded_amount, stored.refund_reserved_amount) == (2_500, 0)

    async def test_exists_but_not_yet_found_is_never_failed(self, worker: Worker) -> None:
        # Issue 11: the gateway says our refund id exists, and its look-up lags the create
        # (404 for a while): an unknown outcome, looked at again later, never FAILED.
        payment = await paid_payment(worker.emu, worker.settings)
        await worker.emu.control.configure(refund_lookup_lag_seconds=1.0)
        refund_id = "rfd_" + unique_suffix()
        await worker.emu.control.dashboard_refund(
            payment.order_id, "25.00", refund_id=refund_id, refund_note="first attempt"
        )
        service = RefundService()
        refund = await service.request(
            await service.payments.get(payment.payment_id),
            amount=2_500,
            reason="returned",
            user_id=payment.user_id,
            idempotency_key=unique_suffix(),
            refund_id=refund_id,
        )
        done = await refund_reaches(refund.refund_id, R.SUCCESS, timeout=15)
        assert R.FAILED.value not in [h.to_status for h in done.history]
        stored = await settled(payment.payment_id, InvoiceStatus.PARTIALLY_REFUNDED)
        assert (stored.refunded_amount, stored.refund_reserved_amount) == (2_500, 0)

    async def test_a_polled_answer_with_another_amount_is_never_applied(
        self, worker: Worker
    ) -> None:
        # Issue 11: the amount check holds on the poll path too, not only for webhooks.
        payment, refund = await held_pending_at_the_gateway(worker, 2_000)
        # The gateway's record of our refund now says another amount (a corrupted record).
        await Refund.get_pymongo_collection().update_one(
            {"_id": refund.refund_id}, {"$set": {"amount": 1_999}}
        )
        await worker.emu.control.resolve_refund(payment.order_id, refund.refund_id, "SUCCESS")

        async def alerted() -> bool:
            alerts = await AdminAlert.find(AdminAlert.kind == "refund_amount_mismatch").to_list()
            return any(a.detail["refund_id"] == refund.refund_id for a in alerts)

        await eventually(alerted)  # the poller looked, found the mismatch, applied nothing
        stored = await RefundService().get(refund.refund_id)
        assert stored.status == R.PROCESSING
        held = await PaymentService().get(payment.payment_id)
        assert (held.refunded_amount, held.refund_reserved_amount) == (0, 2_000)

    async def test_refund_initiated_delivered_twice_makes_one_gateway_refund(
        self, worker: Worker
    ) -> None:
        payment = await paid_payment(worker.emu, worker.settings)
        refund = await request_refund(payment.payment_id, 3_000)

        async def initiated_published() -> bool:
            return bool(await worker.spy.events("refund.initiated"))

        await eventually(initiated_published)
        [initiated] = await worker.spy.events("refund.initiated")
        assert worker.resources.publisher is not None
        await worker.resources.publisher.publish(OutboxEvent(envelope=initiated))
        await worker.resources.publisher.publish(OutboxEvent(envelope=initiated))
        await refund_reaches(refund.refund_id, R.SUCCESS)
        assert await executed_creates(worker.emu) == 1
        assert await gateway_refunds(worker, payment.order_id) == [GatewayRefundStatus.SUCCEEDED]
        stored = await settled(payment.payment_id, InvoiceStatus.PARTIALLY_REFUNDED)
        assert stored.refunded_amount == 3_000


class TestGatewayOutcomes:
    async def test_cancelled_refund_gives_the_amount_back(self, worker: Worker) -> None:
        payment = await paid_payment(worker.emu, worker.settings, 10_000)
        await worker.emu.control.refund_fault("cancelled")
        refund = await request_refund(payment.payment_id, 4_000)
        await refund_reaches(refund.refund_id, R.CANCELLED)
        stored = await settled(payment.payment_id, InvoiceStatus.REFUND_FAILED)
        assert stored.status == PaymentStatus.SUCCESS
        assert (stored.refundable_amount, stored.refund_reserved_amount) == (10_000, 0)

        async def email_event_out() -> bool:
            return bool(await worker.spy.events("email.payment.refund"))

        await eventually(email_event_out)
        [email] = await worker.spy.events("email.payment.refund")
        assert (email.data["status"], email.data["amount"]) == ("CANCELLED", 4_000)

        again = await request_refund(payment.payment_id, 10_000)  # refundable again
        await refund_reaches(again.refund_id, R.SUCCESS)
        assert (await settled(payment.payment_id, InvoiceStatus.REFUNDED)).refunded_amount == 10_000

    async def test_on_hold_refund_is_resolved_by_the_poll(self, worker: Worker) -> None:
        payment = await paid_payment(worker.emu, worker.settings)
        await worker.emu.control.refund_fault("onhold")
        refund = await request_refund(payment.payment_id, 1_000)

        async def on_hold() -> bool:
            return (await RefundService().get(refund.refund_id)).gateway_status == "ON_HOLD"

        await eventually(on_hold)
        assert (await RefundService().get(refund.refund_id)).status == R.PROCESSING
        await worker.emu.control.resolve_refund(payment.order_id, refund.refund_id, "SUCCESS")
        await refund_reaches(refund.refund_id, R.SUCCESS)

    async def test_refund_the_gateway_refuses_fails_and_releases(self, worker: Worker) -> None:
        # Our payment holds more than the gateway's order: the gateway refuses the excess.
        payment = await paid_payment(worker.emu, worker.settings, 10_000, gateway_amount=1_000)
        refund = await request_refund(payment.payment_id, 5_000)
        failed = await refund_reaches(refund.refund_id, R.FAILED)
        assert failed.failure_reason
        stored = await settled(payment.payment_id, InvoiceStatus.REFUND_FAILED)
        assert (stored.refundable_amount, stored.refund_reserved_amount) == (10_000, 0)
        assert await gateway_refunds(worker, payment.order_id) == []

    async def test_webhook_outcome_first_then_the_worker_changes_nothing(
        self, worker: Worker
    ) -> None:
        payment, refund = await held_pending_at_the_gateway(worker, 2_000)
        await worker.emu.control.resolve_refund(payment.order_id, refund.refund_id, "SUCCESS")
        async with CashfreeGateway(worker.settings) as gateway:
            answer = await gateway.get_refund(payment.order_id, refund.refund_id)
        # What the webhook processor does with a REFUND_STATUS webhook.
        # Its payment write keeps the invoice in step on its own (no sync call here).
        await RefundService().apply_gateway_refund(answer, Evidence(source="webhook"))
        done = await refund_reaches(refund.refund_id, R.SUCCESS)
        stored = await settled(payment.payment_id, InvoiceStatus.PARTIALLY_REFUNDED)
        assert stored.refunded_amount == 2_000  # applied once, whoever came first
        assert [h.to_status for h in done.history].count("SUCCESS") == 1


class TestRefundsCashfreeMade:
    async def test_an_auto_refund_is_never_made_again_by_the_worker(self, worker: Worker) -> None:
        # Found by review of issue 13: an AUTO_REFUND webhook records the refund INITIATED
        # (under Cashfree's cf_refund_id) and publishes refund.initiated; the worker, reading
        # it before its outcome was applied, created it at Cashfree: a second refund, of our
        # captured payment, that our books never saw.
        payment = await paid_payment(worker.emu, worker.settings)
        await worker.emu.control.auto_refund(payment.order_id, status="PENDING")
        async with CashfreeGateway(worker.settings) as gateway:
            [auto] = await gateway.list_refunds(payment.order_id)
        assert auto.gateway_refund_id is not None
        # What the webhook processor records (`webhooks.parsing`: no merchant refund id).
        answer = auto.model_copy(update={"refund_id": auto.gateway_refund_id})
        recorded = await RefundService().record_auto_refund(
            answer, "duplicate payment", Evidence(source="webhook")
        )
        assert recorded.status == R.INITIATED

        async def initiated_published() -> bool:
            return bool(await worker.spy.events("refund.initiated"))

        await eventually(initiated_published)
        async with CashfreeGateway(worker.settings) as gateway:
            executor = RefundExecutor(gateway)
            await executor.submit(recorded.refund_id)
            await executor.poll(await RefundService().get(recorded.refund_id))
            refunds = await gateway.list_refunds(payment.order_id)
        assert await executed_creates(worker.emu) == 0
        assert [r.gateway_refund_id for r in refunds] == [auto.gateway_refund_id]
        assert (await RefundService().get(recorded.refund_id)).status == R.INITIATED
