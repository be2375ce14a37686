import asyncio
from collections.abc import AsyncIterator

import pytest
from paycore.kit.errors import LockNotAcquired
from paycore.kit.redis import Lock, redis_client
from paycore.testing import isolated_settings
from redis.asyncio import Redis


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = redis_client(isolated_settings())
    yield client
    await client.aclose()


@pytest.fixture
def key() -> str:
    return isolated_settings().redis_prefix + "lock:payment:pay_1"


async def test_only_the_owner_can_release(redis: Redis, key: str) -> None:
    owner = Lock(redis, key, ttl_ms=5_000)
    intruder = Lock(redis, key, ttl_ms=5_000)
    assert await owner.acquire()
    assert not await intruder.acquire()
    assert not await intruder.release()
    assert await redis.get(key) == owner.owner
    assert await owner.release()
    assert await redis.get(key) is None


async def test_an_expired_lock_can_be_taken(redis: Redis, key: str) -> None:
    first = Lock(redis, key, ttl_ms=100)
    assert await first.acquire()
    await asyncio.sleep(0.25)
    second = Lock(redis, key, ttl_ms=5_000)
    assert await second.acquire()
    # The first owner's late release must not free the second owner's lock.
    assert not await first.release()
    assert await redis.get(key) == second.owner
    await second.release()


async def test_extend_only_for_the_owner(redis: Redis, key: str) -> None:
    owner = Lock(redis, key, ttl_ms=2_000)  # held until the owner's own extend, however slow
    assert await owner.acquire()
    assert not await Lock(redis, key, ttl_ms=2_000).extend(10_000)
    assert await owner.extend(10_000)
    assert await redis.pttl(key) > 5_000
    await owner.release()


async def test_context_manager_refuses_a_held_lock(redis: Redis, key: str) -> None:
    async with Lock(redis, key, ttl_ms=5_000):
        with pytest.raises(LockNotAcquired):
            async with Lock(redis, key, ttl_ms=5_000):
                pass
    assert await redis.get(key) is None


async def test_many_contenders_hold_the_lock_one_at_a_time(redis: Redis, key: str) -> None:
    # 200 contenders on separate connections, each retrying until it has held the lock once:
    # never two inside at the same time, and every one gets its turn.
    clients = [redis_client(isolated_settings()) for _ in range(8)]
    inside: list[str] = []
    most_inside = 0
    turns = 0

    async def contend(number: int) -> None:
        nonlocal most_inside, turns
        lock = Lock(clients[number % len(clients)], key, ttl_ms=5_000)
        while True:  # a contender polls until the holder lets go
            if await lock.acquire():
                break
            await asyncio.sleep(0.001)
        inside.append(lock.owner)
        most_inside = max(most_inside, len(inside))
        await asyncio.sleep(0)  # let the others try while it is held
        inside.remove(lock.owner)
        turns += 1
        assert await lock.release()

    try:
        await asyncio.wait_for(asyncio.gather(*(contend(n) for n in range(200))), timeout=60)
    finally:
        for client in clients:
            await client.aclose()
    assert (most_inside, turns) == (1, 200)
    assert await redis.get(key) is None
