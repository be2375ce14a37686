"""SMTP delivery (aiosmtplib) to `SMTP_URL`: `smtp://[user:password@]host[:port]`, STARTTLS when
the server offers it (`?starttls=require` or `SMTP_REQUIRE_TLS`, on by default in production, to
insist), or `smtps://` for TLS from the start."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from paycore.emails.errors import EmailDeliveryFailed, EmailRejected

# Awaited with the server's reply the moment it accepted the message, before the conversation
# ends: recording the email as sent here keeps the crash window (accepted, not yet recorded) to
# that one write, without the QUIT round trip and connection close after it.
Accepted = Callable[[str], Awaitable[None]]


class MailTransport(Protocol):
    @property
    def timeout(self) -> float:
        """Seconds one whole conversation may last (connect to the server's reply)."""
        ...

    async def send(self, message: EmailMessage, accepted: Accepted) -> str:
        """Hands the message to the mail server, awaits `accepted(reply)` as soon as the server
        took it, and returns the reply. Raises `EmailDeliveryFailed` (try again later) or
        `EmailRejected` (never accepted); what `accepted` raises passes through."""
        ...


@dataclass(frozen=True)
class SmtpTransport:
    hostname: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool | None = None  # None: if the server offers it
    timeout: float = 30.0

    @classmethod
    def from_url(
        cls, url: str, timeout: float = 30.0, *, require_tls: bool = False
    ) -> SmtpTransport:
        """`require_tls`: never send in the clear (smtps://, or STARTTLS that must succeed;
        a server without it fails the delivery, which is retried and then dead-lettered)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://host:port or smtps://host:port")
        secure = parts.scheme == "smtps"
        starttls = parse_qs(parts.query).get("starttls", [""])[0].lower()
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if secure else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=secure,
            start_tls=True
            if not secure and (starttls in ("require", "true", "1") or require_tls)
            else None,
            timeout=timeout,
        )

    async def send(self, message: EmailMessage, accepted: Accepted) -> str:
        client = aiosmtplib.SMTP(
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            timeout=self.timeout,
        )
        try:
            async with asyncio.timeout(self.timeout):
                await client.connect()
                _, reply = await client.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            client.close()
            if all(refused.code >= 500 for refused in exc.recipients):
                raise EmailRejected(f"recipient refused: {exc.recipients[0].message}") from exc
            raise EmailDeliveryFailed(f"recipient deferred: {exc}") from exc
        except aiosmtplib.SMTPRecipientRefused as exc:
            client.close()
            if exc.code >= 500:
                raise EmailRejected(f"recipient refused: {exc.message}") from exc
            raise EmailDeliveryFailed(f"recipient deferred: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            client.close()
            raise EmailDeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc
        try:
            await accepted(reply)
        finally:
            # The message is delivered whatever the goodbye does.
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
            client.close()
        return reply
