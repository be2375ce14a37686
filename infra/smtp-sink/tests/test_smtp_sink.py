"""The sink over real SMTP: stores, rejects on request, goes down and comes back, serves JSON."""

from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest
from smtp_sink.testing import running_smtp_sink


def message(to: str = "buyer@example.com", subject: str = "hello") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "shop@example.com"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = "<m1@paycore.local>"
    mail.set_content("plain body ₹10.34")
    mail.add_alternative("<p>html body</p>", subtype="html")
    return mail


async def test_keeps_each_message_with_both_parts(tmp_path: Path) -> None:
    async with running_smtp_sink(store_dir=tmp_path) as sink:
        await aiosmtplib.send(message(), hostname=sink.host, port=sink.port)
        [received] = await sink.inbox.wait_for(1)
    assert received.rcpt_tos == ["buyer@example.com"]
    assert received.subject == "hello"
    assert received.message_id == "<m1@paycore.local>"
    assert received.text is not None
    assert "₹10.34" in received.text
    assert received.html is not None
    assert "<p>html body</p>" in received.html
    stored = sorted(p.name for p in tmp_path.iterdir())  # noqa: ASYNC240
    assert stored == ["000001.eml", "000001.json"]


async def test_rejected_message_is_refused_with_a_transient_code() -> None:
    async with running_smtp_sink() as sink:
        sink.inbox.reject_next()
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await aiosmtplib.send(message(), hostname=sink.host, port=sink.port)
        assert refused.value.code == 451
        await aiosmtplib.send(message(), hostname=sink.host, port=sink.port)
        assert len(sink.inbox.messages()) == 1


async def test_stopped_sink_refuses_connections_and_starts_again_on_its_port() -> None:
    async with running_smtp_sink() as sink:
        sink.stop()
        with pytest.raises(aiosmtplib.SMTPConnectError):
            await aiosmtplib.send(message(), hostname=sink.host, port=sink.port, timeout=2)
        sink.start()
        await aiosmtplib.send(message(), hostname=sink.host, port=sink.port)
        assert len(sink.inbox.messages()) == 1


async def test_http_inbox_lists_filters_and_clears() -> None:
    async with running_smtp_sink(http=True) as sink:
        await aiosmtplib.send(message("a@example.com", "first"), hostname=sink.host, port=sink.port)
        await aiosmtplib.send(message("b@example.com", "other"), hostname=sink.host, port=sink.port)
        async with httpx.AsyncClient(base_url=str(sink.http_url)) as http:
            listed = (await http.get("/messages", params={"to": "b@example.com"})).json()
            assert [m["subject"] for m in listed] == ["other"]
            one = (await http.get(f"/messages/{listed[0]['id']}")).json()
            assert one["text"].strip() == "plain body ₹10.34"
            raw = await http.get(f"/messages/{listed[0]['id']}/raw")
            assert raw.headers["content-type"].startswith("message/rfc822")
            assert (await http.delete("/messages")).status_code == 204
            assert (await http.get("/health")).json() == {"status": "ok", "messages": 0}
