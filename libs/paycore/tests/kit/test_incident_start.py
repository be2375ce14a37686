"""`kit.redis.incident_start`: one start per incident, against the real Redis."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from paycore.kit.redis import incident_start, redis_client
from paycore.testing import isolated_settings
from redis.asyncio import Redis


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = redis_client(isolated_settings())
    yield client
    await client.aclose()


async def test_every_sighting_names_the_first_until_the_window_passes(redis: Redis) -> None:
    key = isolated_settings().redis_prefix + "incident:queue"
    first = await incident_start(redis, key, 1)
    assert abs(first - time.time()) < 2
    await asyncio.sleep(0.5)
    assert await incident_start(redis, key, 1) == first
    # Set within the second `first` names, the key lived one second from then.
    await asyncio.sleep(first + 2.1 - time.time())
    assert await incident_start(redis, key, 1) > first


async def test_without_redis_the_start_is_the_time_buckets() -> None:
    # A port nothing listens on: the alert named by the start must still go out.
    unreachable = Redis(port=1, socket_connect_timeout=0.5)
    started = await incident_start(unreachable, "incident:queue", 3600)
    await unreachable.aclose()
    assert started % 3600 == 0
    assert time.time() - 3600 < started <= time.time()
