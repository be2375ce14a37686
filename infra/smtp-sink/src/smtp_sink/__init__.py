"""A local SMTP server that keeps what it receives: in memory, optionally as files, and over a
small HTTP JSON API. For development and tests only."""

from smtp_sink.inbox import Inbox, ReceivedEmail
from smtp_sink.server import SmtpSink

__all__ = ["Inbox", "ReceivedEmail", "SmtpSink"]
