"""The send use case: claim the email in `email_logs`, render, hand it to SMTP, mark it sent.

At most once in the normal path: a second delivery of the event finds the record (SENT or
SKIPPED) and sends nothing. Never lost: a failed send leaves the record FAILED and raises a
retryable error, so the event goes through the delay queues and, at the end, the dead-letter
queue. What can still duplicate an email is in services/email-worker/README.md.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum
from typing import Any

from loguru import logger

from paycore.emails.composing import Composed, EmailComposer
from paycore.emails.errors import (
    EmailDeliveryFailed,
    EmailInFlight,
    EmailRejected,
    UnknownEmailType,
)
from paycore.emails.formatting import mask_address
from paycore.emails.metrics import EMAILS
from paycore.emails.models import KIND_BY_EVENT_TYPE, EmailKind, EmailLog
from paycore.emails.rendering import RenderedEmail, render
from paycore.emails.repository import ClaimResult, EmailLogRepository
from paycore.emails.transport import MailTransport
from paycore.kit.crypto import FieldCipher
from paycore.kit.events import EventEnvelope
from paycore.kit.futures import finish_before_cancelling

# What a claim must still hold after a whole SMTP conversation (`MailTransport.timeout`): time
# to write the SENT record. A lease that ran out before it would let a redelivery send again.
RECORD_ALLOWANCE = timedelta(seconds=5)


class EmailOutcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Sender:
    address: str  # the From header, "paycore <payments@paycore.local>"

    @property
    def domain(self) -> str:
        return email.utils.parseaddr(self.address)[1].rpartition("@")[2] or "paycore.local"


def kind_of(event_type: str) -> EmailKind:
    kind = KIND_BY_EVENT_TYPE.get(event_type)
    if kind is None:
        raise UnknownEmailType(event_type=event_type)
    return kind


class EmailService:
    def __init__(
        self,
        transport: MailTransport,
        composer: EmailComposer,
        sender: Sender,
        *,
        cipher: FieldCipher | None = None,
        lease: timedelta = timedelta(minutes=2),
        repository: EmailLogRepository | None = None,
    ) -> None:
        self.transport = transport
        self.composer = composer
        self.sender = sender
        self.cipher = cipher
        self.lease = lease
        self.repository = repository or EmailLogRepository()
        # The claim held when a conversation starts: it ends, and is recorded, inside it.
        self.conversation = timedelta(seconds=transport.timeout) + RECORD_ALLOWANCE
        if lease < self.conversation:
            raise ValueError(
                f"the claim ({lease.total_seconds():g} s) must outlast an SMTP conversation and"
                f" its record ({self.conversation.total_seconds():g} s)"
            )

    async def send_for_event(self, envelope: EventEnvelope) -> EmailOutcome:
        """Sends the email this event calls for, unless a delivery of it already did."""
        kind = kind_of(envelope.type)
        key = f"{envelope.event_id}:{kind.value}"
        claim = await self.repository.claim(
            EmailLog(key=key, event_id=envelope.event_id, event_type=envelope.type, kind=kind),
            self.lease,
        )
        if claim.result == ClaimResult.DONE:
            EMAILS.labels(kind.value, EmailOutcome.DUPLICATE.value).inc()
            logger.info("email already handled", emailKey=key, status=claim.log.status.value)
            return EmailOutcome.DUPLICATE
        if claim.result == ClaimResult.BUSY:
            raise EmailInFlight(email_key=key)
        log = claim.log
        try:
            composed = await self.composer.compose(kind, envelope)
            rendered = render(kind, composed.context) if composed.address else None
        except Exception as exc:
            # Nothing was sent: release the claim at once, so a replay need not wait the lease.
            await self.repository.mark_failed(log, repr(exc)[:500], {})
            EMAILS.labels(kind.value, "failed").inc()
            raise
        refs = dict(composed.refs)
        if composed.address is None or rendered is None:
            await self.repository.mark_skipped(log, "no address", refs)
            EMAILS.labels(kind.value, EmailOutcome.SKIPPED.value).inc()
            logger.info("email skipped: no address", emailKey=key)
            return EmailOutcome.SKIPPED
        message = self._message(key, kind, envelope, composed, rendered)
        details = {
            **refs,
            "subject": rendered.subject,
            "message_id": message["Message-ID"],
            "recipient": mask_address(composed.address),
            "recipient_hash": self.cipher.lookup_hash(composed.address) if self.cipher else None,
        }

        log = await self._hold_for_sending(log)
        # A cancellation (the broker connection dropped: its channel cancels the handler) must
        # not fall between the server's 250 and our record of it, or the redelivery would send
        # again once the lease ran out: the conversation and its record finish first.
        return await finish_before_cancelling(self._send(log, kind, message, details))

    async def _hold_for_sending(self, log: EmailLog) -> EmailLog:
        """The claim renewed if less of it is left than a whole SMTP conversation and its
        record can take. Raises `EmailInFlight` if another delivery took the email over
        meanwhile (it sends it; this one must not)."""
        now = datetime.now(UTC)
        if log.lease_until is not None and log.lease_until - now >= self.conversation:
            return log
        renewed = await self.repository.renew(log, now + self.lease)
        if renewed is None:
            logger.warning("claim lost before sending; the other delivery sends", emailKey=log.key)
            raise EmailInFlight(email_key=log.key)
        return renewed

    async def _send(
        self, log: EmailLog, kind: EmailKind, message: EmailMessage, details: dict[str, Any]
    ) -> EmailOutcome:
        key = log.key

        async def record_sent(reply: str) -> None:
            # The server has it: from its reply until this write lands is the only window in
            # which a crash makes a later delivery send it again (README of the email-worker).
            if await self.repository.mark_sent(log, {**details, "smtp_reply": reply[:200]}) is None:
                logger.warning("email sent, but its record changed meanwhile", emailKey=key)

        try:
            await self.transport.send(message, record_sent)
        except (EmailDeliveryFailed, EmailRejected) as exc:
            await self.repository.mark_failed(log, exc.message, details)
            EMAILS.labels(kind.value, "failed").inc()
            logger.warning("email not sent", emailKey=key, error=exc.message, retry=exc.retryable)
            raise
        EMAILS.labels(kind.value, EmailOutcome.SENT.value).inc()
        logger.info("email sent", emailKey=key, kind=kind.value)
        return EmailOutcome.SENT

    def _message(
        self,
        key: str,
        kind: EmailKind,
        envelope: EventEnvelope,
        composed: Composed,
        rendered: RenderedEmail,
    ) -> EmailMessage:
        assert composed.address is not None
        message = EmailMessage()
        message["From"] = self.sender.address
        message["To"] = composed.address
        message["Subject"] = rendered.subject
        message["Date"] = email.utils.format_datetime(envelope.occurred_at)
        # The same Message-ID on every attempt: a mail system that sees one twice may drop it.
        message["Message-ID"] = f"<{key.replace(':', '.')}@{self.sender.domain}>"
        message["X-Paycore-Event-Id"] = envelope.event_id
        message["X-Paycore-Email-Type"] = kind.value
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message
