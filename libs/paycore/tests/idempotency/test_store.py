import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from paycore.idempotency.errors import IdempotencyKeyReused, RequestInFlight
from paycore.idempotency.store import Claim, IdempotencyStore, StoredResponse, fingerprint
from paycore.kit.redis import redis_client
from paycore.testing import isolated_settings
from redis.asyncio import Redis


@pytest.fixture
async def store() -> AsyncIterator[IdempotencyStore]:
    settings = isolated_settings()
    redis = redis_client(settings)
    yield IdempotencyStore(redis, prefix=settings.redis_prefix, in_flight_seconds=1)
    async for key in redis.scan_iter(f"{settings.redis_prefix}*"):
        await redis.delete(key)
    await redis.aclose()


def key() -> str:
    return uuid.uuid4().hex


async def claimed(
    store: IdempotencyStore, k: str, namespace: str = "payment", user: str = "u"
) -> Claim:
    """Begins a request (fingerprint "fp") under key `k`; asserts it is the first: a Claim."""
    claim = await store.begin(namespace, user, k, "fp")
    assert isinstance(claim, Claim)
    return claim


class TestFingerprint:
    def test_ignores_key_order_and_spacing(self) -> None:
        assert fingerprint("u", "post", "/p", {"a": 1, "b": [1, 2]}) == fingerprint(
            "u", "POST", "/p", {"b": [1, 2], "a": 1}
        )

    @pytest.mark.parametrize(
        "other",
        [
            ("v", "POST", "/p", {"a": 1}),
            ("u", "PUT", "/p", {"a": 1}),
            ("u", "POST", "/q", {"a": 1}),
        ],
    )
    def test_depends_on_user_method_path_and_body(self, other: tuple) -> None:  # type: ignore[type-arg]
        assert fingerprint("u", "POST", "/p", {"a": 1}) != fingerprint(*other)
        assert fingerprint("u", "POST", "/p", {"a": 1}) != fingerprint("u", "POST", "/p", {"a": 2})


class TestStore:
    async def test_first_claims_then_completion_is_replayed(self, store: IdempotencyStore) -> None:
        k = key()
        claim = await claimed(store, k)
        with pytest.raises(RequestInFlight) as busy:
            await store.begin("payment", "u", k, "fp")
        assert busy.value.headers["Retry-After"] == "1"
        await claim.complete(StoredResponse(201, {"data": 1}))
        replay = await store.begin("payment", "u", k, "fp")
        assert replay == StoredResponse(201, {"data": 1}, {})

    async def test_a_body_already_rendered_is_stored_as_sent(self, store: IdempotencyStore) -> None:
        k = key()
        claim = await claimed(store, k)
        body = {"data": {"amount": 100, "name": "Zoë"}, "requestId": "r1"}
        sent = '{"data":{"amount":100,"name":"Zoë"},"requestId":"r1"}'
        await claim.complete(StoredResponse(201, body, {"x": "1"}, body_json=sent))
        replay = await store.begin("payment", "u", k, "fp")
        assert replay == StoredResponse(201, body, {"x": "1"})

    async def test_other_fingerprint_is_refused_in_flight_and_after(
        self, store: IdempotencyStore
    ) -> None:
        k = key()
        claim = await claimed(store, k)
        with pytest.raises(IdempotencyKeyReused):
            await store.begin("payment", "u", k, "other")
        await claim.complete(StoredResponse(201, {}))
        with pytest.raises(IdempotencyKeyReused):
            await store.begin("payment", "u", k, "other")

    async def test_release_lets_a_retry_claim(self, store: IdempotencyStore) -> None:
        k = key()
        claim = await claimed(store, k)
        await claim.release()
        await claimed(store, k)

    async def test_a_crashed_claim_expires(self, store: IdempotencyStore) -> None:
        k = key()
        await claimed(store, k)
        await asyncio.sleep(1.1)
        await claimed(store, k)

    async def test_an_expired_claim_is_not_released_by_its_old_owner(
        self, store: IdempotencyStore
    ) -> None:
        k = key()
        old = await claimed(store, k)
        await asyncio.sleep(1.1)
        await claimed(store, k)  # a new owner
        await old.release()
        with pytest.raises(RequestInFlight):
            await store.begin("payment", "u", k, "fp")

    async def test_concurrent_begins_give_one_claim(self, store: IdempotencyStore) -> None:
        k = key()
        results = await asyncio.gather(
            *(store.begin("payment", "u", k, "fp") for _ in range(30)), return_exceptions=True
        )
        assert sum(isinstance(r, Claim) for r in results) == 1
        assert all(isinstance(r, Claim | RequestInFlight) for r in results)

    async def test_namespaces_and_users_are_separate(self, store: IdempotencyStore) -> None:
        k = key()
        await claimed(store, k)
        await claimed(store, k, "refund")
        await claimed(store, k, user="v")

    async def test_unreachable_redis_degrades_to_a_no_op_claim(self) -> None:
        redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        store = IdempotencyStore(redis)
        claim = await store.begin("payment", "u", key(), "fp")
        assert isinstance(claim, Claim)
        assert claim.store is None
        await claim.complete(StoredResponse(201, {}))
        await redis.aclose()


class TestKeysDontCollide:
    async def test_users_and_keys_that_join_to_the_same_text_are_two_claims(
        self, store: IdempotencyStore
    ) -> None:
        # Joined with plain ":" both would be "idempotency:payment:a:b:c".
        first = await store.begin("payment", "a:b", "c", "fp-1")
        second = await store.begin("payment", "a", "b:c", "fp-2")
        assert isinstance(first, Claim)
        assert isinstance(second, Claim)
        assert store.redis_key("payment", "a:b", "c") != store.redis_key("payment", "a", "b:c")
