"""Mints a development bearer token signed with JWT_SECRET.

uv run python -m payments_api.mint_token --user usr_1 --scopes read,write,refund
"""

from __future__ import annotations

import argparse
import sys

from paycore.auth.tokens import Scope, mint_token
from paycore.kit.settings import JwtSettings, load_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", required=True, help="the subject: a user id such as usr_1")
    parser.add_argument(
        "--scopes",
        default="read,write",
        help=f"comma-separated, from {', '.join(scope.value for scope in Scope)}",
    )
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    try:
        scopes = [Scope(name.strip()) for name in args.scopes.split(",") if name.strip()]
    except ValueError as exc:
        parser.error(str(exc))
    settings = load_settings(JwtSettings)
    token = mint_token(
        settings.jwt_secret.get_secret_value(),
        args.user,
        scopes,
        issuer=settings.jwt_issuer,
        ttl_seconds=args.ttl,
    )
    sys.stdout.write(token + "\n")


if __name__ == "__main__":
    main()
