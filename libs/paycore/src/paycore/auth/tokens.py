"""JWT bearer tokens: HS256 with `JWT_SECRET`, the subject is the user id, `scope` lists
what the holder may do (space-separated, as in OAuth 2)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import jwt

from paycore.kit.errors import Forbidden, Unauthorized

ALGORITHM: Final = "HS256"
# Tokens are short-lived; clock skew between issuer and us is tolerated up to this.
LEEWAY_SECONDS: Final = 30
# The subject ends up in Redis keys, logs and queries: plain characters only.
SUBJECT: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # always fullmatch: `$` allows "\n"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    REFUND = "refund"
    ADMIN = "admin"


class InvalidToken(Unauthorized):
    """The bearer token is missing, malformed or not signed by us."""

    code = "invalid_token"


class TokenExpired(Unauthorized):
    """The bearer token has expired."""

    code = "token_expired"


class InsufficientScope(Forbidden):
    """The token does not grant the scope this request needs."""

    code = "insufficient_scope"


@dataclass(frozen=True)
class Principal:
    user_id: str
    scopes: frozenset[Scope]

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.scopes

    def require(self, scope: Scope) -> None:
        # Admin implies every other scope.
        if scope not in self.scopes and not self.is_admin:
            raise InsufficientScope(required=scope.value)


def mint_token(
    secret: str,
    user_id: str,
    scopes: Iterable[Scope | str],
    *,
    issuer: str,
    ttl_seconds: int = 3600,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "scope": " ".join(Scope(scope).value for scope in scopes),
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str, *, issuer: str) -> Principal:
    """Verifies signature, expiry and issuer; unknown scopes are ignored, not trusted."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # never "none", never an algorithm the token picks
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired() from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken() from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
        raise InvalidToken("the token has no usable subject")
    raw_scope = claims.get("scope", "")
    names = raw_scope.split() if isinstance(raw_scope, str) else []
    known = {scope.value for scope in Scope}
    scopes = frozenset(Scope(name) for name in names if name in known)
    return Principal(user_id=subject, scopes=scopes)
