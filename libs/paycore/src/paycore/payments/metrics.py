"""Payment outcome metrics, counted where a payment reaches an outcome: the one `transition()`
every path (verify, webhook, janitor, reconciler, checkout) goes through."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

from paycore.payments.models import Payment, PaymentStatus

# Label values (docs/metrics.md). A payment can count twice: FAILED, then SUCCESS when the
# customer retried or the bank confirmed late; both outcomes happened.
OUTCOMES: Final[frozenset[PaymentStatus]] = frozenset(
    {PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.EXPIRED, PaymentStatus.CANCELLED}
)
METHODS: Final = ("upi", "card", "netbanking", "wallet", "paylater", "emi", "other", "unknown")

PAYMENTS: Final = Counter(
    "paycore_payments_total",
    "Payments that reached an outcome, by status (success, failed, expired, cancelled) and "
    "payment method.",
    ["status", "method"],
)

ATTEMPTS: Final = Counter(
    "paycore_payment_attempts_total",
    "Payment attempts at Cashfree, by outcome (succeeded, failed) and payment method: a failed "
    "attempt leaves the order payable, so this, not the payment outcomes, is the failure rate "
    "customers see.",
    ["outcome", "method"],
)


def method_label(payment_method: str | None) -> str:
    """A bounded label for Cashfree's payment method or group ("upi", "credit_card", ...)."""
    if not payment_method:
        return "unknown"
    value = payment_method.lower()
    for needle, label in (
        ("upi", "upi"),
        ("emi", "emi"),
        ("card", "card"),
        ("net", "netbanking"),
        ("wallet", "wallet"),
        ("later", "paylater"),
    ):
        if needle in value:
            return label
    return "other"


def observe_outcome(payment: Payment) -> None:
    """Counts `payment` if its (new) status is an outcome; call once per state change."""
    if payment.status in OUTCOMES:
        PAYMENTS.labels(payment.status.value.lower(), method_label(payment.payment_method)).inc()
    if payment.status == PaymentStatus.SUCCESS:
        ATTEMPTS.labels("succeeded", method_label(payment.payment_method)).inc()


def observe_failed_attempt(payment_method: str | None) -> None:
    """Counts a failed attempt; call once per attempt (when it is first recorded)."""
    ATTEMPTS.labels("failed", method_label(payment_method)).inc()
