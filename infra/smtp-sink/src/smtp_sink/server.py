"""The SMTP side: aiosmtpd in its own thread, storing every accepted message in an `Inbox`.

`stop()` and `start()` again on the same port simulate an SMTP outage.
"""

from __future__ import annotations

import socket
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from smtp_sink.inbox import Inbox


class _StoringHandler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rejection = self.inbox.take_rejection()
        if rejection is not None:
            return rejection
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        self.inbox.add(str(envelope.mail_from or ""), [str(r) for r in envelope.rcpt_tos], raw)
        return "250 2.0.0 message accepted"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpSink:
    """An SMTP server on `host:port` (a free port if 0) that keeps what it receives."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, inbox: Inbox | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.inbox = inbox or Inbox()
        self._controller: Controller | None = None

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Starts listening (blocks until the server answers); safe to call after `stop`."""
        if self._controller is not None:
            return
        options: dict[str, Any] = {
            # A fixed name: looking up the machine's FQDN can take seconds without DNS.
            "server_hostname": "smtp-sink.local",
            "ready_timeout": 10.0,
        }
        controller = Controller(_StoringHandler(self.inbox), self.host, self.port, **options)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stops listening: connections are refused until `start` (the inbox is kept)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
