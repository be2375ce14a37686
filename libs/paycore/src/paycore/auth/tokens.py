"""JWT bearer tokens: the subject is the user id, `scope` lists what the holder may do
(space-separated, as in OAuth 2; a `scp` list is read too).

Two kinds are verified: HS256 with `JWT_SECRET` (development, and deployments without an
identity provider) and RS256/ES256 tokens of an identity provider, checked against its JWKS
(`JwksVerifier`: keys picked by `kid`, re-fetched when a new `kid` appears, issuer and
audience required)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import jwt

from paycore.auth.errors import InsufficientScope, InvalidToken, TokenExpired
from paycore.kit.errors import DependencyUnavailable

ALGORITHM: Final = "HS256"
# What an identity provider may sign with; never HS* (the JWKS is public) and never "none".
IDP_ALGORITHMS: Final = ("RS256", "ES256")
# Tokens are short-lived; clock skew between issuer and us is tolerated up to this.
LEEWAY_SECONDS: Final = 30
# The subject ends up in Redis keys, logs and queries: plain characters only.
SUBJECT: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # always fullmatch: `$` allows "\n"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    REFUND = "refund"
    ADMIN = "admin"


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
    return principal_from(_verified_claims(secret, token, issuer=issuer))


def _verified_claims(secret: str, token: str, *, issuer: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
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
    return claims


class VerifiedTokens:
    """HS256 tokens already verified (`decode_token`), kept with their principal until they
    expire, so the same token on the next request of a session is not parsed and verified
    again (about 0.1 ms of CPU each time). Accepts nothing `decode_token` would refuse: a
    token's claims never change, only tokens that passed are kept, and each use checks the
    expiry (`exp` + `LEEWAY_SECONDS`, as the decoder does) before answering from memory."""

    def __init__(self, secret: str, *, issuer: str, max_tokens: int = 10_000) -> None:
        self._secret = secret
        self._issuer = issuer
        self._max_tokens = max_tokens
        self._known: dict[str, tuple[Principal, float]] = {}  # token -> (principal, valid until)

    def known(self, token: str) -> Principal | None:
        """The principal of a token verified before and not expired since; None otherwise."""
        entry = self._known.get(token)
        if entry is None:
            return None
        principal, valid_until = entry
        if time.time() >= valid_until:
            del self._known[token]
            return None
        return principal

    def verify(self, token: str) -> Principal:
        """`decode_token`, remembering a token that passes; raises as it does."""
        principal = self.known(token)
        if principal is not None:
            return principal
        claims = _verified_claims(self._secret, token, issuer=self._issuer)
        principal = principal_from(claims)
        if len(self._known) >= self._max_tokens:
            del self._known[next(iter(self._known))]  # the oldest: a bounded memory
        self._known[token] = (principal, float(claims["exp"]) + LEEWAY_SECONDS)
        return principal


def principal_from(claims: dict[str, Any]) -> Principal:
    """The user id and the known scopes of verified claims; unknown scopes are ignored."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
        raise InvalidToken("the token has no usable subject")
    raw_scope = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw_scope, str):
        names = raw_scope.split()
    elif isinstance(raw_scope, list):
        names = [name for name in raw_scope if isinstance(name, str)]
    else:
        names = []
    known = {scope.value for scope in Scope}
    scopes = frozenset(Scope(name) for name in names if name in known)
    return Principal(user_id=subject, scopes=scopes)


def token_algorithm(token: str) -> str | None:
    """The `alg` of the token's header (unverified: only to choose the verifier)."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        return None
    return algorithm if isinstance(algorithm, str) else None


class JwksVerifier:
    """Verifies an identity provider's tokens with the keys it publishes at `jwks_url`.

    The key set is cached for `cache_seconds`; a token naming an unknown `kid` triggers one
    re-fetch (how a provider's key rotation reaches us), at most every
    `refresh_cooldown_seconds`. Fetching runs in a thread (PyJWT's
    client is synchronous)."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        cache_seconds: int = 300,
        refresh_cooldown_seconds: float = 30,
        timeout_seconds: float = 5,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._client = jwt.PyJWKClient(
            jwks_url,
            cache_jwk_set=True,
            lifespan=cache_seconds,
            timeout=int(timeout_seconds),
            cooldown_duration=refresh_cooldown_seconds,
        )

    async def decode(self, token: str) -> Principal:
        """Raises `InvalidToken`, `TokenExpired`, or `DependencyUnavailable` if the key set
        cannot be fetched (503: the caller retries)."""
        try:
            signing_key = await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise DependencyUnavailable("the identity provider's keys are unavailable") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not signed by a known key") from exc
        try:
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=list(IDP_ALGORITHMS),
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["sub", "exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired() from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken() from exc
        return principal_from(claims)
