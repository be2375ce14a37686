"""Client idempotency in Redis (docs/design.md §4).

`idempotency:<namespace>:<user>:<key>` holds the request's fingerprint and, once answered, the
response, for 24 hours. The first request claims the key with `SET NX` and a short expiry (a
crashed request frees the key for a retry); a request with the same key then gets the stored
answer, 422 if its body differs, or 409 with `Retry-After` while the first is still running.
Redis only accelerates: the `(user_id, idempotency_key)` unique indexes stay the truth when a key
is lost, and a Redis outage degrades to them instead of failing the request.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Final

from loguru import logger
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from paycore.idempotency.errors import IdempotencyKeyReused, RequestInFlight
from paycore.kit.metrics import series
from paycore.kit.redis import redis_key

OUTCOMES = Counter(
    "paycore_idempotency_total",
    "Idempotency-Key look-ups by outcome.",
    ["namespace", "outcome"],
)

# Delete only if we still hold the claim: an expired claim may belong to a retry by now.
_RELEASE: Final = """
local raw = redis.call('get', KEYS[1])
if raw and cjson.decode(raw)['token'] == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

IN_FLIGHT: Final = "in_flight"
DONE: Final = "done"


def check_same_request(stored_fingerprint: str | None, request_fingerprint: str) -> None:
    """The backstop behind the response cache: a record an earlier request made under this
    key (a payment, a refund) refuses a request with another body (`IdempotencyKeyReused`,
    422). Records stored before fingerprints existed (None) are taken as the same request."""
    if stored_fingerprint not in (None, request_fingerprint):
        raise IdempotencyKeyReused()


def fingerprint(user_id: str, method: str, path: str, body: Any) -> str:
    """SHA-256 of user, method, path and the canonical JSON body (key order, spacing ignored)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    material = f"{user_id}\n{method.upper()}\n{path}\n{canonical}"
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    # `body` as the JSON text the caller already rendered, if it has it: stored as it is
    # instead of being encoded a second time.
    body_json: str | None = None


@dataclass
class Claim:
    """This request holds the key; `complete` stores its answer, `release` gives the key up."""

    store: IdempotencyStore | None
    redis_key: str
    fingerprint: str
    token: str

    async def complete(self, response: StoredResponse) -> None:
        if self.store is not None:
            await self.store.save(self, response)

    async def release(self) -> None:
        if self.store is not None:
            await self.store.release(self)


class IdempotencyStore:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "",
        ttl_seconds: int = 86_400,
        in_flight_seconds: int = 60,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self.in_flight_seconds = in_flight_seconds

    def redis_key(self, namespace: str, user_id: str, key: str) -> str:
        # Scoped by user: two callers who happen to pick the same key never meet.
        return redis_key(self.prefix, "idempotency", namespace, user_id, key)

    async def begin(
        self, namespace: str, user_id: str, key: str, request_fingerprint: str
    ) -> Claim | StoredResponse:
        """Claims the key, or returns the stored answer; raises on a reused key or while busy."""
        redis_key = self.redis_key(namespace, user_id, key)
        token = secrets.token_hex(12)
        claim = Claim(self, redis_key, request_fingerprint, token)
        marker = json.dumps(
            {"state": IN_FLIGHT, "fingerprint": request_fingerprint, "token": token}
        )
        try:
            for _ in range(3):
                if await self.redis.set(redis_key, marker, nx=True, ex=self.in_flight_seconds):
                    series(OUTCOMES, namespace, "claimed").inc()
                    return claim
                raw = await self.redis.get(redis_key)
                if raw is None:
                    continue  # expired between the two calls: try to claim again
                stored = json.loads(raw)
                if stored.get("fingerprint") != request_fingerprint:
                    OUTCOMES.labels(namespace, "reused").inc()
                    raise IdempotencyKeyReused()
                if stored.get("state") != DONE:
                    OUTCOMES.labels(namespace, "in_flight").inc()
                    raise RequestInFlight()
                OUTCOMES.labels(namespace, "replayed").inc()
                return StoredResponse(
                    status=int(stored["status"]),
                    body=stored["body"],
                    headers=dict(stored.get("headers") or {}),
                )
        except RedisError as exc:
            OUTCOMES.labels(namespace, "redis_unavailable").inc()
            logger.warning("idempotency store unavailable; unique indexes decide", error=repr(exc))
            return Claim(None, redis_key, request_fingerprint, token)
        raise RequestInFlight()

    async def save(self, claim: Claim, response: StoredResponse) -> None:
        outcome = {
            "state": DONE,
            "fingerprint": claim.fingerprint,
            "token": claim.token,
            "status": response.status,
            "headers": response.headers,
        }
        body = response.body_json
        if body is None:
            body = json.dumps(response.body, default=str)
        # The same JSON object as encoding it with the body inside, without encoding it twice.
        value = json.dumps(outcome, default=str)[:-1] + ',"body":' + body + "}"
        try:
            await self.redis.set(claim.redis_key, value, ex=self.ttl_seconds)
        except RedisError as exc:
            logger.warning("idempotent response not stored", error=repr(exc))

    async def release(self, claim: Claim) -> None:
        try:
            await self.redis.eval(_RELEASE, 1, claim.redis_key, claim.token)
        except RedisError as exc:
            logger.warning("idempotency claim not released", error=repr(exc))
