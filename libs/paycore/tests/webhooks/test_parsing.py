"""Reading stored webhooks by type and version (no I/O)."""

import json

import pytest
from paycore.gateway.schemas import GatewayAttemptStatus, GatewayRefundStatus
from paycore.payments.models import SettlementStatus
from paycore.webhooks.errors import MalformedWebhook, UnsupportedWebhookVersion
from paycore.webhooks.parsing import (
    AutoRefundEvent,
    DisputeEvent,
    PaymentEvent,
    RefundEvent,
    SettlementEvent,
    UnknownEvent,
    parse_webhook,
)

PAYMENT_FAILED = b"""{"data":{"order":{"order_id":"ord_1","order_amount":170.00,"order_currency":"INR"},
"payment":{"cf_payment_id":1453002795,"payment_status":"FAILED","payment_amount":170.00,
"payment_currency":"INR","auth_id":"null","bank_reference":"NA",
"payment_method":{"netbanking":{"netbanking_bank_code":"3054"}}},
"error_details":{"error_code":"GATEWAY_ERROR","error_reason":"invalid_amount"}},
"event_time":"2025-01-15T11:16:10+05:30","type":"PAYMENT_FAILED_WEBHOOK"}"""

REFUND = b"""{"data":{"refund":{"cf_refund_id":11325632,"cf_payment_id":789727431,
"refund_id":"rfd_1","order_id":"ord_1","refund_amount":2.00,"refund_currency":"INR",
"refund_arn":"205907014017","refund_status":"SUCCESS","requested_speed":"STANDARD",
"processed_at":"2022-02-28T13:04:27+05:30"}},"type":"REFUND_STATUS_WEBHOOK"}"""

AUTO_REFUND = b"""{"data":{"auto_refund":{"event":"AUTO-REFUND","cf_refund_id":1243460973,
"cf_payment_id":"2148333968","order_id":"ord_1","refund_amount":39,"refund_currency":"INR",
"refund_status":"SUCCESS","refund_reason":"Multiple payments were performed against same order."}},
"type":"AUTO_REFUND_STATUS_WEBHOOK"}"""

SETTLEMENT = b"""{"data":{"settlement":{"amount_settled":97.94,"payment_amount":100,
"payment_from":"2025-02-14 12:00:00","service_charge":1.75,"service_tax":0.31,
"settled_on":"2025-02-14T12:35:19+05:30","settlement_amount":97.94,"settlement_id":738,
"status":"SUCCESS","utr":1644822317781212}},"type":"SETTLEMENT_SUCCESS"}"""


def test_a_failed_payment_with_numeric_ids_and_missing_markers() -> None:
    event = parse_webhook("PAYMENT_FAILED_WEBHOOK", "2025-01-01", PAYMENT_FAILED)
    assert isinstance(event, PaymentEvent)
    attempt = event.attempt
    assert attempt.order_id == "ord_1"
    assert attempt.gateway_payment_id == "1453002795"
    assert attempt.status == GatewayAttemptStatus.FAILED
    assert attempt.amount_minor == 17_000
    assert attempt.auth_id is None
    assert attempt.bank_reference is None
    assert attempt.payment_method == "netbanking"


@pytest.mark.parametrize("version", [None, "2023-08-01", "2025-01-01"])
def test_a_refund_in_every_supported_version(version: str | None) -> None:
    event = parse_webhook("REFUND_STATUS_WEBHOOK", version, REFUND)
    assert isinstance(event, RefundEvent)
    assert event.refund.refund_id == "rfd_1"
    assert event.refund.gateway_refund_id == "11325632"
    assert event.refund.amount_minor == 200
    assert event.refund.status == GatewayRefundStatus.SUCCEEDED


def test_an_auto_refund_uses_the_gateway_refund_id() -> None:
    event = parse_webhook("AUTO_REFUND_STATUS_WEBHOOK", "2025-01-01", AUTO_REFUND)
    assert isinstance(event, AutoRefundEvent)
    assert event.refund.refund_id == "1243460973"
    assert event.refund.amount_minor == 3_900
    assert event.reason is not None


def test_a_settlement_maps_the_webhook_field_names() -> None:
    event = parse_webhook("SETTLEMENT_SUCCESS", "2025-01-01", SETTLEMENT)
    assert isinstance(event, SettlementEvent)
    assert event.status == SettlementStatus.SETTLED
    assert event.settlement.gateway_settlement_id == "738"
    assert event.settlement.utr == "1644822317781212"
    assert event.settlement.settlement_amount_minor == 9_794
    assert event.settlement.service_charge_minor == 175


def test_the_event_type_decides_the_settlement_stage() -> None:
    event = parse_webhook("SETTLEMENT_INITIATED", "2025-01-01", SETTLEMENT)
    assert isinstance(event, SettlementEvent)
    assert event.status == SettlementStatus.PENDING


def test_an_unknown_type_is_not_parsed() -> None:
    assert parse_webhook("VENDOR_CREATED", "2099-01-01", b"not even json") == UnknownEvent(
        "VENDOR_CREATED"
    )


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(UnsupportedWebhookVersion):
        parse_webhook("REFUND_STATUS_WEBHOOK", "2099-01-01", REFUND)


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"[]",
        b"not json",
        json.dumps({"data": {"refund": {"refund_id": "r"}}}).encode(),
        REFUND.replace(b"2.00", b'"two"'),
    ],
)
def test_a_body_that_does_not_fit_its_type_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        parse_webhook("REFUND_STATUS_WEBHOOK", "2025-01-01", body)


DISPUTE = b"""{"data":{"dispute":{"dispute_id":"433475258","dispute_type":"DISPUTE","reason_code":"1402",
"reason_description":"Duplicate Processing","dispute_amount":3,"created_at":"2023-06-15T21:50:04+05:30",
"updated_at":"2023-06-15T21:50:04+05:30","respond_by":"2023-06-18T23:59:59+05:30",
"dispute_status":"DISPUTE_CREATED","cf_dispute_remarks":"x","dispute_action_on":"MERCHANT"},
"order_details":{"order_id":"ord_1","order_amount":3,"order_currency":"INR","cf_payment_id":885473311,
"payment_amount":3,"payment_currency":"INR"},"customer_details":{"customer_name":"A"}},
"event_time":"2023-06-15T21:50:04+05:30","type":"DISPUTE_CREATED"}"""


def test_a_dispute_is_read_with_its_deadline() -> None:
    event = parse_webhook("DISPUTE_CREATED", "2025-01-01", DISPUTE)
    assert isinstance(event, DisputeEvent)
    dispute = event.dispute
    assert (dispute.dispute_id, dispute.order_id, dispute.gateway_payment_id) == (
        "433475258",
        "ord_1",
        "885473311",
    )
    assert (dispute.amount_minor, dispute.currency, dispute.outcome) == (300, "INR", "OPEN")
    assert dispute.respond_by is not None
    assert dispute.respond_by.isoformat() == "2023-06-18T23:59:59+05:30"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("CHARGEBACK_MERCHANT_WON", "WON"),
        ("DISPUTE_MERCHANT_LOST", "LOST"),
        ("DISPUTE_MERCHANT_ACCEPTED", "LOST"),
        ("SOMETHING_NEW", "UNKNOWN"),
    ],
)
def test_a_closed_dispute_has_an_outcome(status: str, outcome: str) -> None:
    body = DISPUTE.replace(b'"DISPUTE_CREATED","cf', f'"{status}","cf'.encode())
    event = parse_webhook("DISPUTE_CLOSED", "2025-01-01", body)
    assert isinstance(event, DisputeEvent)
    assert event.dispute.outcome == outcome
