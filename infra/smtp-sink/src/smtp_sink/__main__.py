"""`python -m smtp_sink --port 1025 --http-port 8025 [--store-dir DIR]`: the SMTP sink with its
HTTP inbox, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from smtp_sink.http import create_http_app
from smtp_sink.inbox import Inbox
from smtp_sink.server import SmtpSink


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smtp_sink", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("SMTP_SINK_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMTP_SINK_PORT", "1025")))
    parser.add_argument(
        "--http-port", type=int, default=int(os.environ.get("SMTP_SINK_HTTP_PORT", "8025"))
    )
    parser.add_argument(
        "--store-dir",
        type=Path,
        default=os.environ.get("SMTP_SINK_STORE_DIR") or None,
        help="also write each message there as <id>.eml and <id>.json",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sink = SmtpSink(args.host, args.port, Inbox(store_dir=args.store_dir))
    sink.start()
    print(  # noqa: T201 - a command-line tool's own start-up line
        f"smtp-sink: SMTP {sink.smtp_url}, inbox http://{args.host}:{args.http_port}/messages",
        flush=True,
    )
    try:
        uvicorn.run(
            create_http_app(sink.inbox),
            host=args.host,
            port=args.http_port,
            log_level="warning",
        )
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
