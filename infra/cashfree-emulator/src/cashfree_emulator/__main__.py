"""`python -m cashfree_emulator`: serve the emulator (flags override `EMULATOR_*` env vars)."""

import argparse
from collections.abc import Sequence

import uvicorn

from cashfree_emulator.app import create_app
from cashfree_emulator.settings import EmulatorSettings, env_overrides, from_text


def parse_settings(argv: Sequence[str] | None = None) -> EmulatorSettings:
    parser = argparse.ArgumentParser(prog="cashfree_emulator", description=__doc__)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--app-id", dest="app_id")
    parser.add_argument("--secret-key", dest="secret_key")
    parser.add_argument("--webhook-urls", dest="webhook_urls", help="comma-separated webhook URLs")
    parser.add_argument("--webhook-version", dest="webhook_version")
    parser.add_argument("--rate-limit-per-minute", dest="rate_limit_per_minute", type=int)
    parser.add_argument("--webhook-retry-scale", dest="webhook_retry_scale", type=float)
    parser.add_argument("--refund-delay-seconds", dest="refund_delay_seconds", type=float)
    parser.add_argument("--merchants", help="JSON list of extra merchants")
    args = vars(parser.parse_args(argv))
    flags = {
        name: from_text(name, value) if isinstance(value, str) else value
        for name, value in args.items()
        if value is not None
    }
    return EmulatorSettings.model_validate({**env_overrides(), **flags})


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_settings(argv)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
