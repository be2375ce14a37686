"""Issues, lists and revokes API keys (admin command; the key is printed once, never stored).

uv run python -m payments_api.api_keys issue --user usr_1 --scopes read,write --name "ERP sync"
uv run python -m payments_api.api_keys list --user usr_1
uv run python -m payments_api.api_keys revoke <key id>
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from paycore.auth.api_keys import ApiKeyService
from paycore.auth.models import ApiKey
from paycore.auth.tokens import Scope
from paycore.kit.mongo import connect_mongo
from paycore.kit.settings import MongoSettings, load_settings


async def run(args: argparse.Namespace, settings: MongoSettings) -> int:
    client = await connect_mongo(settings, [ApiKey])
    service = ApiKeyService()
    try:
        if args.command == "issue":
            scopes = [Scope(name.strip()) for name in args.scopes.split(",") if name.strip()]
            key, text = await service.issue(args.user, scopes, args.name)
            sys.stdout.write(f"key id {key.key_id} for {key.user_id} ({', '.join(key.scopes)})\n")
            sys.stdout.write(f"{text}\n(shown once: store it in the caller's secret store now)\n")
        elif args.command == "list":
            for key in await service.of_user(args.user):
                state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
                used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
                sys.stdout.write(
                    f"{key.key_id}  {state:<22} last used {used:<16} "
                    f"{','.join(key.scopes):<20} {key.name}\n"
                )
        elif not await service.revoke(args.key_id):
            sys.stdout.write(f"no active key {args.key_id}\n")
            return 1
        else:
            sys.stdout.write(f"revoked {args.key_id}\n")
        return 0
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    issue = commands.add_parser("issue", help="create a key and print it once")
    issue.add_argument("--user", required=True, help="the user id the key acts for")
    issue.add_argument("--scopes", default="read", help=f"comma-separated, from {', '.join(Scope)}")
    issue.add_argument("--name", required=True, help="what the key is for")
    listing = commands.add_parser("list", help="a user's keys (never their secrets)")
    listing.add_argument("--user", required=True)
    revoke = commands.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    if args.command == "issue":
        try:
            [Scope(name.strip()) for name in args.scopes.split(",") if name.strip()]
        except ValueError as exc:
            parser.error(str(exc))
    settings = load_settings(MongoSettings)
    raise SystemExit(asyncio.run(run(args, settings)))


if __name__ == "__main__":
    main()
