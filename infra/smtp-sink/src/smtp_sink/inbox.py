"""What the sink received, readable from any thread: the SMTP server appends from its own
thread while tests and the HTTP API read."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReceivedEmail:
    id: int
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    message_id: str | None
    headers: dict[str, str]
    text: str | None
    html: str | None
    raw: bytes
    received_at: datetime

    @classmethod
    def parse(cls, id: int, mail_from: str, rcpt_tos: list[str], raw: bytes) -> ReceivedEmail:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return cls(
            id=id,
            mail_from=mail_from,
            rcpt_tos=list(rcpt_tos),
            subject=str(message.get("Subject", "")),
            message_id=message.get("Message-ID"),
            headers={name: str(value) for name, value in message.items()},
            text=_part(message, "plain"),
            html=_part(message, "html"),
            raw=raw,
            received_at=datetime.now(UTC),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.mail_from,
            "to": self.rcpt_tos,
            "subject": self.subject,
            "message_id": self.message_id,
            "received_at": self.received_at.isoformat(),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "headers": self.headers, "text": self.text, "html": self.html}


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_subtype() != subtype:
        return None
    content = body.get_content()
    return content if isinstance(content, str) else None


@dataclass
class Inbox:
    """Received messages in order; optionally also written to `store_dir` as `<id>.eml` and
    `<id>.json`."""

    store_dir: Path | None = None
    _messages: list[ReceivedEmail] = field(default_factory=list)
    _rejections: list[str] = field(default_factory=list)
    _next_id: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> ReceivedEmail:
        with self._lock:
            received = ReceivedEmail.parse(self._next_id, mail_from, rcpt_tos, raw)
            self._next_id += 1
            self._messages.append(received)
        if self.store_dir is not None:
            self.store_dir.mkdir(parents=True, exist_ok=True)
            stem = self.store_dir / f"{received.id:06d}"
            stem.with_suffix(".eml").write_bytes(raw)
            stem.with_suffix(".json").write_text(json.dumps(received.to_json(), indent=2))
        return received

    def reject_next(self, count: int = 1, reply: str = "451 4.3.0 sink told to fail") -> None:
        """The next `count` messages are refused at DATA with `reply` (4xx: try again later)."""
        with self._lock:
            self._rejections.extend([reply] * count)

    def take_rejection(self) -> str | None:
        with self._lock:
            return self._rejections.pop(0) if self._rejections else None

    def messages(self, *, to: str | None = None, subject: str | None = None) -> list[ReceivedEmail]:
        """Every message so far, oldest first; `to` matches a recipient, `subject` a substring."""
        with self._lock:
            found = list(self._messages)
        if to is not None:
            found = [m for m in found if to.lower() in (r.lower() for r in m.rcpt_tos)]
        if subject is not None:
            found = [m for m in found if subject in m.subject]
        return found

    def get(self, id: int) -> ReceivedEmail | None:
        with self._lock:
            return next((m for m in self._messages if m.id == id), None)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._rejections.clear()

    async def wait_for(
        self,
        count: int = 1,
        *,
        timeout: float = 10.0,
        to: str | None = None,
        subject: str | None = None,
    ) -> list[ReceivedEmail]:
        """Polls until at least `count` matching messages arrived; TimeoutError otherwise."""
        async with asyncio.timeout(timeout):
            # Messages arrive on the SMTP server's thread; an asyncio.Event cannot cross.
            while len(found := self.messages(to=to, subject=subject)) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        return found
