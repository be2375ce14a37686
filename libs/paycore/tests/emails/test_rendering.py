from typing import Any

import pytest
from jinja2 import UndefinedError
from paycore.emails.models import EmailKind
from paycore.emails.rendering import render

BASE: dict[str, Any] = {
    "brand": "paycore",
    "support_email": "support@paycore.local",
    "recipient_name": None,
    "reference": "pay_1",
}


def test_success_email_has_both_parts_and_the_amount() -> None:
    email = render(
        EmailKind.PAYMENT_SUCCESS,
        BASE
        | {
            "amount": 250_000,
            "currency": "INR",
            "payment_id": "pay_1",
            "transaction_id": "cf_77",
            "invoice_number": "INV-9",
            "payment_method": "upi",
        },
    )
    assert email.subject == "Payment received: ₹2,500.00"
    for part in (email.text, email.html):
        assert "₹2,500.00" in part
        assert "cf_77" in part
        assert "INV-9" in part
        assert "support@paycore.local" in part


def test_html_escapes_what_came_from_outside() -> None:
    email = render(
        EmailKind.PAYMENT_FAILED,
        BASE
        | {
            "recipient_name": "<script>x</script>",
            "amount": 100,
            "currency": "INR",
            "payment_id": "pay_1",
            "failure_reason": "card declined",
            "retry_url": None,
        },
    )
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "Hello <script>x</script>," in email.text  # plain text is shown, never run


def test_failed_refund_says_it_was_not_completed() -> None:
    context = BASE | {
        "amount": 4_000,
        "currency": "INR",
        "payment_id": "pay_1",
        "refund_id": "rfd_1",
        "status": "CANCELLED",
        "succeeded": False,
        "expected_time": "soon",
    }
    email = render(EmailKind.PAYMENT_REFUND, context)
    assert email.subject == "Refund not completed: ₹40.00"
    assert "could not be completed (cancelled)" in email.text


def test_a_missing_value_fails_instead_of_sending_blanks() -> None:
    with pytest.raises(UndefinedError):
        render(EmailKind.PAYMENT_SUCCESS, BASE | {"amount": 1, "currency": "INR"})


def test_admin_alert_lists_its_details() -> None:
    email = render(
        EmailKind.ADMIN_ALERT,
        BASE
        | {
            "alert": "refund_reversed",
            "severity": "high",
            "details": [("refund_id", "rfd_1")],
            "event_id": "evt_1",
            "occurred_at": "2026-01-01T00:00:00+00:00",
        },
    )
    assert email.subject == "[paycore HIGH] refund_reversed"
    assert "refund_id: rfd_1" in email.text
