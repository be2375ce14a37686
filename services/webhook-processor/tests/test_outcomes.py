"""Each kind of webhook, from the emulator through the real ingress, broker and processor."""

import asyncio
import json
from decimal import Decimal

from paycore.alerts import AdminAlert
from paycore.disputes.models import Dispute
from paycore.fraud.screening import Attempt, FraudScreen, FraudThresholds, Limit
from paycore.gateway import (
    GatewayCustomer,
    GatewayOrderRequest,
    GatewayRefundRequest,
    idempotency_key,
)
from paycore.invoices.models import Invoice, InvoiceStatus
from paycore.kit.crypto import cipher_for
from paycore.kit.ids import new_id
from paycore.kit.redis import redis_client
from paycore.kit.state import Evidence
from paycore.money import to_minor
from paycore.payments.models import Payment, PaymentStatus, SettlementStatus
from paycore.payments.repository import PaymentRepository
from paycore.payments.service import PaymentService
from paycore.payments.settlement import SETTLEMENT_PAGE_SIZE
from paycore.refunds.models import RefundSource, RefundStatus
from paycore.refunds.repository import RefundRepository
from paycore.refunds.service import RefundService
from paycore.webhooks.models import WebhookStatus
from webhook_pipeline import Pipeline, eventually, wait_for_logs

payments = PaymentRepository()


async def payment_of(payment_id: str) -> Payment:
    payment = await payments.get(payment_id)
    assert payment is not None
    return payment


async def paid(pipeline: Pipeline, amount: int = 10_000) -> Payment:
    payment, session = await pipeline.new_order(amount)
    await pipeline.emulator.control.pay(session, "SUCCESS")
    await wait_for_logs(pipeline, 1, order_id=payment.order_id)
    settled = await payment_of(payment.payment_id)
    assert settled.status == PaymentStatus.SUCCESS
    return settled


async def test_a_hundred_concurrent_copies_make_one_transition_and_one_email(
    pipeline: Pipeline,
) -> None:
    emails = await pipeline.tap("email.exchange")
    payment, session = await pipeline.new_order()
    await pipeline.emulator.control.webhook_fault("duplicate", copies=100)

    await pipeline.emulator.control.pay(session, "SUCCESS")

    # Every copy is acknowledged; on a loaded machine a copy's first try may time out, and
    # Cashfree (the emulator) sends it again, so count the delivered tries.
    delivered = await pipeline.emulator.control.wait_for_events(
        100, outcome="delivered", timeout=60
    )
    assert {attempt.status_code for attempt in delivered} == {200}
    [log] = await wait_for_logs(pipeline, 1, order_id=payment.order_id)
    assert log.status == WebhookStatus.SUCCESS
    stored = await payment_of(payment.payment_id)
    assert [r.to_status for r in stored.history if not r.ignored].count("SUCCESS") == 1
    await emails.one_arrives("email.payment.success", payment_id=payment.payment_id)
    await asyncio.sleep(1)  # anything duplicated would have been published by now
    sent = await emails.of_type("email.payment.success", payment_id=payment.payment_id)
    assert len(sent) == 1


async def test_a_failure_arriving_after_the_success_changes_nothing(pipeline: Pipeline) -> None:
    emails = await pipeline.tap("email.exchange")
    payment, session = await pipeline.new_order()
    # The failed attempt's webhook is held back until the success's has been sent.
    await pipeline.emulator.control.webhook_fault("out_of_order")
    await pipeline.emulator.control.pay(session, "FAILED")
    await pipeline.emulator.control.pay(session, "SUCCESS")

    logs = await wait_for_logs(pipeline, 2, order_id=payment.order_id)
    by_type = {log.event_type: log for log in logs}
    assert by_type["PAYMENT_FAILED_WEBHOOK"].processed_at > (
        by_type["PAYMENT_SUCCESS_WEBHOOK"].processed_at
    )
    assert by_type["PAYMENT_FAILED_WEBHOOK"].outcome == "attempt_failed"
    stored = await payment_of(payment.payment_id)
    assert stored.status == PaymentStatus.SUCCESS
    late = [r for r in stored.history if "FAILED" in (r.note or "")]
    assert len(late) == 1
    assert late[0].ignored
    assert late[0].to_status == "SUCCESS"
    invoice = await Invoice.find_one(Invoice.invoice_number == payment.invoice_number)
    assert invoice is not None
    assert invoice.status == InvoiceStatus.PAID
    await asyncio.sleep(0.5)
    assert await emails.of_type("email.payment.failed", payment_id=payment.payment_id) == []


async def test_a_refund_made_in_the_dashboard_is_adopted(pipeline: Pipeline) -> None:
    payment = await paid(pipeline, amount=10_000)

    await pipeline.emulator.control.dashboard_refund(payment.order_id, Decimal("40.00"))

    logs = await wait_for_logs(pipeline, 2, order_id=payment.order_id)
    [refund_log] = [log for log in logs if log.event_type == "REFUND_STATUS_WEBHOOK"]
    assert refund_log.status == WebhookStatus.SUCCESS
    assert refund_log.outcome == "adopted"
    refunds = await RefundRepository().list_for_payment(payment.payment_id)
    assert [(r.source, r.status, r.amount) for r in refunds] == [
        (RefundSource.GATEWAY, RefundStatus.SUCCESS, 4_000)
    ]
    stored = await payment_of(payment.payment_id)
    assert stored.status == PaymentStatus.PARTIALLY_REFUNDED
    assert stored.refunded_amount == 4_000
    invoice = await Invoice.find_one(Invoice.invoice_number == payment.invoice_number)
    assert invoice is not None
    assert invoice.status == InvoiceStatus.PARTIALLY_REFUNDED


async def test_a_webhook_for_an_unknown_order_is_kept_as_an_orphan_and_alerts(
    pipeline: Pipeline,
) -> None:
    emails = await pipeline.tap("email.exchange", "email.admin.alert")
    order_id = new_id("ord")  # exists at the gateway only
    order = await pipeline.gateway.create_order(
        GatewayOrderRequest(
            order_id=order_id,
            amount_minor=5_000,
            currency="INR",
            customer=GatewayCustomer(customer_id="cus_x", phone="9999999999"),
        ),
        idempotency_key=idempotency_key("order", order_id),
    )
    assert order.payment_session_id is not None

    await pipeline.emulator.control.pay(order.payment_session_id, "SUCCESS")

    [log] = await wait_for_logs(pipeline, 1, order_id=order_id)
    assert log.status == WebhookStatus.ORPHANED

    async def alerted() -> bool:
        found = await emails.of_type("email.admin.alert", log_id=log.log_id)
        return [event.data["alert"] for event in found] == ["webhook_unknown_order"]

    await eventually(alerted)


async def test_an_unknown_event_type_is_stored_and_acknowledged(pipeline: Pipeline) -> None:
    body = json.dumps({"type": "VENDOR_CREATED", "data": {"vendor": {"vendor_id": "1"}}})

    answer = await pipeline.post_signed(body.encode())

    assert answer.status_code == 200
    [log] = await wait_for_logs(pipeline, 1, event_type="VENDOR_CREATED")
    assert log.status == WebhookStatus.IGNORED
    assert log.raw_body(cipher_for(pipeline.processor)) == body.encode()


async def test_an_amount_mismatch_never_marks_success_and_alerts(pipeline: Pipeline) -> None:
    emails = await pipeline.tap("email.exchange")
    payment, session = await pipeline.new_order(amount=10_000)
    await pipeline.emulator.control.webhook_fault("amount_mismatch", amount_delta="1.00")

    await pipeline.emulator.control.pay(session, "SUCCESS")

    [log] = await wait_for_logs(pipeline, 1, order_id=payment.order_id)
    assert log.status == WebhookStatus.FAILED
    assert log.outcome == "amount_mismatch"
    assert log.discrepancy == {
        "expected_amount": 10_000,
        "expected_currency": "INR",
        "reported_amount": 10_100,
        "reported_currency": "INR",
    }
    stored = await payment_of(payment.payment_id)
    assert stored.status == PaymentStatus.PENDING
    assert any(r.evidence.reference == log.log_id and r.ignored for r in stored.history)

    await emails.one_arrives("email.admin.alert", log_id=log.log_id)
    assert await emails.of_type("email.payment.success", payment_id=payment.payment_id) == []


async def test_a_settlement_is_recorded_on_the_payment(pipeline: Pipeline) -> None:
    events = await pipeline.tap("payment.exchange", "payment.settled")
    payment = await paid(pipeline)

    await pipeline.emulator.control.settle(payment.order_id, "SUCCESS")

    async def settled() -> bool:
        stored = await payment_of(payment.payment_id)
        return stored.settlement is not None

    await eventually(settled)
    stored = await payment_of(payment.payment_id)
    assert stored.settlement is not None
    assert stored.settlement.status == SettlementStatus.SETTLED
    assert stored.settlement.utr
    assert stored.settlement.settled_amount is not None
    assert stored.settlement.settled_amount < 10_000  # minus charges

    await events.one_arrives("payment.settled", payment_id=payment.payment_id)


async def test_an_auto_refund_of_a_duplicate_capture_is_a_refund_that_leaves_our_amounts(
    pipeline: Pipeline,
) -> None:
    payment = await paid(pipeline)

    await pipeline.emulator.control.auto_refund(payment.order_id)

    # The emulator first records the duplicate payment (its own PAYMENT_SUCCESS webhook).
    auto_refunds = {"order_id": payment.order_id, "event_type": "AUTO_REFUND_STATUS_WEBHOOK"}
    [auto] = await wait_for_logs(pipeline, 1, **auto_refunds)
    assert (auto.status, auto.outcome) == (WebhookStatus.SUCCESS, "applied")
    stored = await payment_of(payment.payment_id)
    assert stored.status == PaymentStatus.SUCCESS
    assert (stored.captured_amount, stored.refunded_amount, stored.refundable_amount) == (
        payment.captured_amount,
        0,
        payment.captured_amount,
    )
    assert len(stored.extra_captures) == 1  # the duplicate was recorded as money received
    [refund] = await RefundRepository().list_for_payment(payment.payment_id)
    assert (refund.source, refund.status, refund.amount) == (
        RefundSource.AUTO,
        RefundStatus.SUCCESS,
        10_000,
    )
    assert refund.cf_payment_id == stored.extra_captures[0]
    assert not refund.counts_against_payment
    alerts = await AdminAlert.find(AdminAlert.kind == "gateway_auto_refund").to_list()
    assert [a.detail["refund_id"] for a in alerts] == [refund.refund_id]


async def test_an_auto_refund_of_our_capture_counts_against_refundable(
    pipeline: Pipeline,
) -> None:
    emails = await pipeline.tap("email.exchange", "email.payment.refund")
    payment = await paid(pipeline, amount=10_000)

    await pipeline.emulator.control.auto_refund(
        payment.order_id, duplicate_payment=False, amount=Decimal("40.00")
    )

    auto_refunds = {"order_id": payment.order_id, "event_type": "AUTO_REFUND_STATUS_WEBHOOK"}
    [auto] = await wait_for_logs(pipeline, 1, **auto_refunds)
    assert (auto.status, auto.outcome) == (WebhookStatus.SUCCESS, "applied")
    stored = await payment_of(payment.payment_id)
    assert stored.status == PaymentStatus.PARTIALLY_REFUNDED
    assert (stored.refunded_amount, stored.refundable_amount) == (4_000, 6_000)
    [refund] = await RefundRepository().list_for_payment(payment.payment_id)
    assert (refund.source, refund.status) == (RefundSource.AUTO, RefundStatus.SUCCESS)
    invoice = await Invoice.find_one(Invoice.invoice_number == payment.invoice_number)
    assert invoice is not None
    assert invoice.status == InvoiceStatus.PARTIALLY_REFUNDED

    await emails.one_arrives("email.payment.refund", refund_id=refund.refund_id)


async def test_a_webhook_outside_the_window_is_confirmed_with_the_gateway(
    pipeline: Pipeline,
) -> None:
    payment, session = await pipeline.new_order()
    # Every delivery of this event is signed with a timestamp an hour old (a late retry).
    await pipeline.emulator.control.webhook_fault("stale_timestamp", age_seconds=3600)

    await pipeline.emulator.control.pay(session, "SUCCESS")

    [log] = await wait_for_logs(pipeline, 1, order_id=payment.order_id)
    assert log.out_of_window
    assert log.status == WebhookStatus.SUCCESS
    stored = await payment_of(payment.payment_id)
    assert stored.status == PaymentStatus.SUCCESS
    [record] = [r for r in stored.history if r.to_status == "SUCCESS" and not r.ignored]
    assert record.evidence.detail["confirmed"] is True
    lookups = await pipeline.emulator.control.calls(operation="get_payment")
    assert any(payment.order_id in call.path for call in lookups)


async def test_a_refund_success_after_its_failure_is_applied_as_a_contradiction(
    pipeline: Pipeline,
) -> None:
    payment = await paid(pipeline, amount=10_000)
    service = RefundService()
    refund = await service.request(
        payment,
        amount=3_000,
        reason="returned",
        user_id=payment.user_id,
        idempotency_key=new_id("key"),
    )
    # Made at the gateway; the sandbox note makes it fail, and the FAILED webhook is applied.
    await pipeline.gateway.create_refund(
        GatewayRefundRequest(
            order_id=payment.order_id,
            refund_id=refund.refund_id,
            amount_minor=3_000,
            currency="INR",
            note="FAILED",
        ),
        idempotency_key=idempotency_key("create_refund", refund.refund_id),
    )
    await wait_for_logs(pipeline, 2, order_id=payment.order_id)
    assert (await service.get(refund.refund_id)).status == RefundStatus.FAILED
    assert (await payment_of(payment.payment_id)).refundable_amount == 10_000

    # Then Cashfree says the money left after all.
    await pipeline.emulator.control.resolve_refund(
        payment.order_id, refund.refund_id, "SUCCESS", contradict=True
    )

    logs = await wait_for_logs(pipeline, 3, order_id=payment.order_id)
    [late] = [log for log in logs if log.outcome not in ("applied", None)]
    assert (late.status, late.outcome) == (WebhookStatus.SUCCESS, "contradiction")
    assert (await service.get(refund.refund_id)).status == RefundStatus.SUCCESS
    stored = await payment_of(payment.payment_id)
    assert (stored.refunded_amount, stored.refundable_amount) == (3_000, 7_000)
    assert stored.status == PaymentStatus.PARTIALLY_REFUNDED
    alerts = await AdminAlert.find(AdminAlert.kind == "refund_success_after_failure").to_list()
    assert [(a.severity, a.detail["refund_id"]) for a in alerts] == [("critical", refund.refund_id)]


async def test_a_late_success_on_an_expired_order_is_money_received(pipeline: Pipeline) -> None:
    payment, session = await pipeline.new_order()
    # An attempt is under way when the order expires (and we close the payment); it succeeds
    # a second later: the two steps below take a fraction of that, however loaded the machine.
    await pipeline.emulator.control.pay(session, "SUCCESS", delay_ms=1_000)
    await pipeline.emulator.control.expire_order(payment.order_id)
    await PaymentService().transition(
        payment.payment_id, PaymentStatus.EXPIRED, Evidence(source="reconciler")
    )

    [log] = await wait_for_logs(pipeline, 1, order_id=payment.order_id)

    assert (log.status, log.outcome) == (WebhookStatus.SUCCESS, "contradiction")
    stored = await payment_of(payment.payment_id)
    assert (stored.status, stored.captured_amount) == (PaymentStatus.SUCCESS, 10_000)
    alerts = await AdminAlert.find(AdminAlert.kind == "payment_success_after_close").to_list()
    assert [a.detail["held_status"] for a in alerts] == ["EXPIRED"]


async def test_a_settlement_of_more_than_one_page_of_orders_settles_them_all(
    pipeline: Pipeline,
) -> None:
    # One settlement batching more orders than one page of Cashfree's listing holds. The
    # payment webhooks are dropped and the payments marked paid directly: only the
    # settlement's processing is under test.
    count = SETTLEMENT_PAGE_SIZE + 1
    await pipeline.emulator.control.webhook_fault("drop", count=count)
    orders = [await pipeline.new_order(1_000 + n, with_invoice=False) for n in range(count)]
    for _, session in orders:
        await pipeline.emulator.control.pay(session, "SUCCESS")
    payments = [payment for payment, _ in orders]
    await Payment.get_pymongo_collection().update_many(
        {"_id": {"$in": [p.payment_id for p in payments]}}, {"$set": {"status": "SUCCESS"}}
    )
    await pipeline.emulator.control.settle_together([p.order_id for p in payments])

    async def all_settled() -> bool:
        settled = await Payment.get_pymongo_collection().count_documents(
            {"_id": {"$in": [p.payment_id for p in payments]}, "settlement.status": "SETTLED"}
        )
        return settled == count

    # 101 guarded updates, each publishing its own event: the bound grows with the work.
    await eventually(all_settled, timeout=60)


async def test_a_lost_chargeback_is_held_while_open_then_paid_out(pipeline: Pipeline) -> None:
    payment = await paid(pipeline, amount=10_000)
    opened = await pipeline.emulator.control.dispute(
        payment.order_id, dispute_type="CHARGEBACK", amount=Decimal("60.00")
    )
    dispute_id = str(opened["dispute_id"])
    [created] = await wait_for_logs(pipeline, 1, event_type="DISPUTE_CREATED")
    assert (created.status, created.outcome) == (WebhookStatus.SUCCESS, "applied")
    held = await payment_of(payment.payment_id)
    # Not refundable while the customer's bank disputes it.
    assert (held.disputed_amount, held.refundable_amount) == (6_000, 4_000)
    assert held.dispute_holds == [dispute_id]
    stored = await Dispute.get_pymongo_collection().find_one({"_id": dispute_id})
    assert stored is not None
    assert stored["respond_by"] is not None
    alerts = await AdminAlert.find(AdminAlert.kind == "dispute_open").to_list()
    assert [a.detail["dispute_id"] for a in alerts] == [dispute_id]
    assert alerts[0].detail["respond_by"]

    await pipeline.emulator.control.move_dispute(dispute_id, "CHARGEBACK_MERCHANT_LOST")

    await wait_for_logs(pipeline, 1, event_type="DISPUTE_CLOSED")
    lost = await payment_of(payment.payment_id)
    assert (lost.disputed_amount, lost.chargeback_amount, lost.refundable_amount) == (
        0,
        6_000,
        4_000,
    )
    assert lost.settled_disputes == [dispute_id]


async def test_a_won_dispute_releases_what_it_held(pipeline: Pipeline) -> None:
    payment = await paid(pipeline, amount=10_000)
    opened = await pipeline.emulator.control.dispute(payment.order_id)
    dispute_id = str(opened["dispute_id"])
    await wait_for_logs(pipeline, 1, event_type="DISPUTE_CREATED")
    assert (await payment_of(payment.payment_id)).refundable_amount == 0

    await pipeline.emulator.control.move_dispute(dispute_id, "DISPUTE_UNDER_REVIEW")
    await wait_for_logs(pipeline, 1, event_type="DISPUTE_UPDATED")
    assert (await payment_of(payment.payment_id)).refundable_amount == 0
    await pipeline.emulator.control.move_dispute(dispute_id, "DISPUTE_MERCHANT_WON")

    await wait_for_logs(pipeline, 1, event_type="DISPUTE_CLOSED")
    won = await payment_of(payment.payment_id)
    assert (won.disputed_amount, won.chargeback_amount, won.refundable_amount) == (0, 0, 10_000)


async def test_a_failed_attempt_counts_toward_repeated_failures(pipeline: Pipeline) -> None:
    payment, session = await pipeline.new_order()
    await pipeline.emulator.control.pay(session, "FAILED")

    [log] = await wait_for_logs(pipeline, 1, order_id=payment.order_id)
    assert log.outcome == "attempt_failed"
    assert (await payment_of(payment.payment_id)).status == PaymentStatus.PENDING
    # What the payments-api's fraud screen reads for this user's next payment.
    redis = redis_client(pipeline.base)
    try:
        screen = FraudScreen(
            redis,
            FraudThresholds(failures=Limit(1, 5)),
            prefix=pipeline.base.redis_prefix,
        )
        assessment = await screen.assess(Attempt(payment.user_id, 10_000, "INR"))
    finally:
        await redis.aclose()
    assert "repeated_failures" in assessment.reasons


async def test_a_customer_paid_surcharge_or_an_offer_is_a_success_not_a_mismatch(
    pipeline: Pipeline,
) -> None:
    # Issue 11: order_amount (what we asked) decides; payment_amount may differ.
    for paid_amount, surcharge, offer in (("101.18", 118, 0), ("90.00", 0, 1_000)):
        payment, session = await pipeline.new_order(amount=10_000)
        await pipeline.emulator.control.pay(session, "SUCCESS", amount=Decimal(paid_amount))

        [log] = await wait_for_logs(pipeline, 1, order_id=payment.order_id)
        assert (log.status, log.outcome) == (WebhookStatus.SUCCESS, "applied")
        stored = await payment_of(payment.payment_id)
        assert stored.status == PaymentStatus.SUCCESS
        assert (stored.amount, stored.payment_amount) == (10_000, to_minor(paid_amount, "INR"))
        assert (stored.surcharge_amount, stored.offer_amount) == (surcharge, offer)
