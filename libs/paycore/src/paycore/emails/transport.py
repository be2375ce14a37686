"""SMTP delivery (aiosmtplib) to `SMTP_URL`: `smtp://[user:password@]host[:port]`, STARTTLS when
the server offers it (`?starttls=require` or `SMTP_REQUIRE_TLS`, on by default in production, to
insist), or `smtps://` for TLS from the start."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from paycore.emails.errors import EmailDeliveryFailed, EmailRejected


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> str:
        """Hands the message to the mail server; returns its reply. Raises `EmailDeliveryFailed`
        (try again later) or `EmailRejected` (never accepted)."""
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

    async def send(self, message: EmailMessage) -> str:
        try:
            _, reply = await aiosmtplib.send(
                message,
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(refused.code >= 500 for refused in exc.recipients):
                raise EmailRejected(f"recipient refused: {exc.recipients[0].message}") from exc
            raise EmailDeliveryFailed(f"recipient deferred: {exc}") from exc
        except aiosmtplib.SMTPRecipientRefused as exc:
            if exc.code >= 500:
                raise EmailRejected(f"recipient refused: {exc.message}") from exc
            raise EmailDeliveryFailed(f"recipient deferred: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connection refused, timeouts, 4xx and the server's other 5xx (a relay's auth or
            # policy trouble an operator can fix): retried, then dead-lettered.
            raise EmailDeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc
        return reply
