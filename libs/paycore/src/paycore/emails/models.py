from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pymongo import ASCENDING, IndexModel

from paycore.kit.mongo import TimestampedDocument


class EmailKind(StrEnum):
    """One template each; the value is the `type` label of the email metrics."""

    PAYMENT_SUCCESS = "payment_success"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_REFUND = "payment_refund"
    INVOICE_GENERATED = "invoice_generated"
    ADMIN_ALERT = "admin_alert"


KIND_BY_EVENT_TYPE: dict[str, EmailKind] = {
    "email.payment.success": EmailKind.PAYMENT_SUCCESS,
    "email.payment.failed": EmailKind.PAYMENT_FAILED,
    "email.payment.refund": EmailKind.PAYMENT_REFUND,
    "email.invoice.generated": EmailKind.INVOICE_GENERATED,
    "email.admin.alert": EmailKind.ADMIN_ALERT,
}


class EmailStatus(StrEnum):
    SENDING = "SENDING"  # claimed; an SMTP conversation may be under way
    SENT = "SENT"  # the SMTP server accepted it
    FAILED = "FAILED"  # the last attempt failed; a retry may claim it again
    SKIPPED = "SKIPPED"  # nothing to send (no address on file)


class EmailLog(TimestampedDocument):
    """One email for one event: the unique `key` makes a second delivery of the event find
    this record instead of sending again."""

    key_field = "key"

    key: str  # "<event_id>:<kind>"
    event_id: str
    event_type: str
    kind: EmailKind
    status: EmailStatus = EmailStatus.SENDING
    version: int = 0
    attempts: int = 0
    # While SENDING: another delivery of the event waits until then before taking over.
    lease_until: datetime | None = None
    recipient: str | None = None  # masked (b***@example.com): enough to answer support
    recipient_hash: str | None = None  # keyed hash, for "what did we send to this address"
    subject: str | None = None
    message_id: str | None = None  # our Message-ID header, the same on every attempt
    smtp_reply: str | None = None
    last_error: str | None = None
    skip_reason: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    invoice_number: str | None = None
    sent_at: datetime | None = None

    class Settings:
        name = "email_logs"
        indexes = [
            IndexModel([("key", ASCENDING)], name="key_unique", unique=True),
            IndexModel([("status", ASCENDING), ("updated_at", ASCENDING)], name="status_updated"),
            IndexModel([("payment_id", ASCENDING)], name="payment_id"),
        ]
