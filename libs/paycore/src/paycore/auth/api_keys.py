"""API keys for server-to-server callers: `pck_<key id>.<secret>`, shown once, stored hashed.

The key id is public (it names the key in logs and in the admin command); the secret is 32
random bytes, so a plain SHA-256 is enough to store it (nothing to brute-force) and compares in
constant time. A key acts for one user id with the scopes it was issued with, until revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

from paycore.auth.errors import ApiKeyRevoked, InvalidToken
from paycore.auth.models import ApiKey
from paycore.auth.tokens import SUBJECT, Principal, Scope

PREFIX: Final = "pck_"
# last_used_at is written at most this often per key: not one database write per request.
LAST_USED_RESOLUTION: Final = timedelta(minutes=1)


def is_api_key(token: str) -> bool:
    return token.startswith(PREFIX)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyService:
    async def issue(self, user_id: str, scopes: Iterable[Scope], name: str) -> tuple[ApiKey, str]:
        """Creates a key; returns it and the full key text, which is never stored or shown
        again. Raises ValueError on a user id that is not a valid subject."""
        if not SUBJECT.fullmatch(user_id):
            raise ValueError("the user id must be 1-64 of letters, digits and _ . : -")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        key = ApiKey(
            key_id=key_id,
            secret_sha256=_digest(secret),
            user_id=user_id,
            scopes=sorted(set(scopes)),
            name=name[:100],
        )
        await key.insert()
        return key, f"{PREFIX}{key_id}.{secret}"

    async def revoke(self, key_id: str) -> bool:
        """Revokes a key at once (the next request with it is refused); False if unknown."""
        result = await ApiKey.get_pymongo_collection().update_one(
            {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": datetime.now(UTC)}}
        )
        return result.modified_count == 1

    async def of_user(self, user_id: str) -> list[ApiKey]:
        return await ApiKey.find(ApiKey.user_id == user_id).to_list()

    async def authenticate(self, token: str) -> Principal:
        """The principal of a `pck_…` key; raises `InvalidToken` (unknown or malformed) or
        `ApiKeyRevoked`."""
        key_id, _, secret = token.removeprefix(PREFIX).partition(".")
        if len(key_id) != 16 or not secret:
            raise InvalidToken("malformed API key")
        key = await ApiKey.get(key_id)
        # Compare even when the key is unknown, so timing says nothing about which ids exist.
        expected = key.secret_sha256 if key is not None else _digest("")
        if not hmac.compare_digest(expected, _digest(secret)) or key is None:
            raise InvalidToken("unknown API key")
        if key.revoked_at is not None:
            raise ApiKeyRevoked()
        await self._touch(key)
        return Principal(user_id=key.user_id, scopes=frozenset(key.scopes))

    async def _touch(self, key: ApiKey) -> None:
        now = datetime.now(UTC)
        stale = now - LAST_USED_RESOLUTION
        if key.last_used_at is not None and key.last_used_at > stale:
            return
        await ApiKey.get_pymongo_collection().update_one(
            {"_id": key.key_id, "$or": [{"last_used_at": None}, {"last_used_at": {"$lt": stale}}]},
            {"$set": {"last_used_at": now}},
        )
