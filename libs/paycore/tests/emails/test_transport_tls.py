"""SMTP never falls back to the clear when TLS is required (a stripped STARTTLS offer)."""

from email.message import EmailMessage

import pytest
from paycore.emails.errors import EmailDeliveryFailed
from paycore.emails.transport import SmtpTransport
from paycore.kit.settings import SmtpSettings
from smtp_sink.testing import RunningSmtpSink


async def nothing_to_record(reply: str) -> None:
    pass


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "payments@paycore.local"
    mail["To"] = "buyer@example.com"
    mail["Subject"] = "Payment received: ₹1,234.56"
    mail.set_content("Asha, we received ₹1,234.56.")
    return mail


async def test_a_server_without_starttls_gets_nothing_when_tls_is_required(
    inbox_cleared: RunningSmtpSink,
) -> None:
    # The sink offers no STARTTLS, as a server behind a downgrading attacker would look.
    transport = SmtpTransport.from_url(inbox_cleared.smtp_url, timeout=2, require_tls=True)
    with pytest.raises(EmailDeliveryFailed):
        await transport.send(message(), nothing_to_record)
    assert inbox_cleared.inbox.messages() == []
    # Without the requirement the same server is used in the clear (development).
    await SmtpTransport.from_url(inbox_cleared.smtp_url, timeout=2).send(
        message(), nothing_to_record
    )
    assert len(inbox_cleared.inbox.messages()) == 1


async def test_the_accept_is_reported_as_soon_as_the_server_has_the_message(
    inbox_cleared: RunningSmtpSink,
) -> None:
    # Recording the email as sent is the only thing between the server's accept and our record:
    # the callback runs with the message already in the server's hands, before the goodbye.
    seen: list[tuple[str, int]] = []

    async def accepted(reply: str) -> None:
        seen.append((reply, len(inbox_cleared.inbox.messages())))

    reply = await SmtpTransport.from_url(inbox_cleared.smtp_url, timeout=2).send(
        message(), accepted
    )
    assert seen == [(reply, 1)]


def test_production_requires_smtp_tls_unless_switched_off() -> None:
    assert SmtpSettings(app_env="production").smtp_tls_required  # type: ignore[arg-type]
    assert not SmtpSettings(app_env="development").smtp_tls_required  # type: ignore[arg-type]
    switched_off = SmtpSettings(app_env="production", smtp_require_tls=False)  # type: ignore[arg-type]
    assert not switched_off.smtp_tls_required
    assert SmtpTransport.from_url("smtps://mail.example", require_tls=True).start_tls is None
