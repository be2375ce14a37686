"""The rate limiter's sliding log (`payments_api.ratelimit`) against the real Redis: never more
than the limit accepted per subject in any 60 s, wherever the clock's minutes fall. A clock of
the test's own places each request exactly (the script takes every time from its caller), so
the waits are checked to the second without sleeping through them."""

from __future__ import annotations

import asyncio
import time

import pytest
from paycore.kit.errors import RateLimited
from paycore.kit.redis import redis_key
from paycore.testing import isolated_settings
from payments_api.ratelimit import RateLimiter
from payments_api_testing import ApiClient
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


class Clock:
    """Seconds since the epoch, moved by the test (binary fractions, exact in milliseconds)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(
    api: ApiClient, at: float, *, per_user: int, per_ip: int = 1000
) -> tuple[RateLimiter, Clock]:
    """A limiter on the app's Redis, with logs of its own and a clock starting `at`."""
    clock = Clock(at)
    redis = api.app.state.api.resources.redis
    prefix = isolated_settings().redis_prefix
    return RateLimiter(redis, prefix=prefix, per_user=per_user, per_ip=per_ip, clock=clock), clock


async def refusal(limiter: RateLimiter, *, ip: str | None, user_id: str | None) -> RateLimited:
    with pytest.raises(RateLimited) as refused:
        await limiter.check(ip=ip, user_id=user_id)
    return refused.value


def retry_after(refused: RateLimited) -> int:
    return int(refused.headers["Retry-After"])


async def logged(limiter: RateLimiter, scope: str, subject: str) -> int:
    """How many requests the subject's log holds."""
    key = redis_key(limiter.prefix, "ratelimit", scope, subject)
    return int(await limiter.redis.zcard(key))


@pytest.fixture
def boundary() -> float:
    """The next minute's boundary: where fixed windows let twice the limit through."""
    return (time.time() // 60 + 1) * 60


class TestSlidingLog:
    async def test_never_more_than_the_limit_across_a_minute_boundary(
        self, api: ApiClient, boundary: float
    ) -> None:
        limits, clock = limiter(api, boundary - 0.5, per_user=3)
        for offset in (-0.5, -0.25, 0):
            clock.now = boundary + offset
            await limits.check(ip=None, user_id="usr_a")
        before = REGISTRY.get_sample_value("paycore_rate_limited_total", {"scope": "user"}) or 0
        clock.now = boundary + 0.5  # a new minute, but the three are still within 60 s
        refused = await refusal(limits, ip=None, user_id="usr_a")
        assert refused.details == {"scope": "user"}
        assert retry_after(refused) == 59  # the first leaves at boundary + 59.5
        assert REGISTRY.get_sample_value("paycore_rate_limited_total", {"scope": "user"}) == (
            before + 1
        )
        clock.now = boundary + 59.375
        assert retry_after(await refusal(limits, ip=None, user_id="usr_a")) == 1
        clock.now = boundary + 0.5 + 59  # waited the Retry-After it was told
        await limits.check(ip=None, user_id="usr_a")
        # Its own place is the first's; the second's comes free a quarter second later.
        assert retry_after(await refusal(limits, ip=None, user_id="usr_a")) == 1
        clock.now = boundary + 59.75
        await limits.check(ip=None, user_id="usr_a")
        assert await logged(limits, "user", "usr_a") == 3

    async def test_requests_every_half_second_get_the_limit_per_60_s(
        self, api: ApiClient, boundary: float
    ) -> None:
        limits, clock = limiter(api, boundary - 30, per_user=10)
        accepted = []
        for step in range(300):  # 150 s
            clock.now = boundary - 30 + step / 2
            try:
                await limits.check(ip=None, user_id="usr_b")
            except RateLimited:
                continue
            accepted.append(clock.now)
        for start in accepted:
            assert len([t for t in accepted if start <= t < start + 60]) <= 10
        # 10 in the first 5 s, then none until the first leaves 60 s later: three bursts.
        assert len(accepted) == 30
        assert accepted[10] - accepted[0] == 60

    async def test_a_refused_request_does_not_extend_the_block(
        self, api: ApiClient, boundary: float
    ) -> None:
        limits, clock = limiter(api, boundary, per_user=2)
        await limits.check(ip=None, user_id="usr_c")
        await limits.check(ip=None, user_id="usr_c")
        for waited, told in ((10, 50), (30, 30), (59.5, 1)):
            clock.now = boundary + waited
            assert retry_after(await refusal(limits, ip=None, user_id="usr_c")) == told
        assert await logged(limits, "user", "usr_c") == 2
        clock.now = boundary + 60
        await limits.check(ip=None, user_id="usr_c")
        assert await logged(limits, "user", "usr_c") == 1  # the two left, the new one came

    async def test_a_request_refused_by_one_subject_counts_against_neither(
        self, api: ApiClient, boundary: float
    ) -> None:
        limits, _ = limiter(api, boundary, per_user=2, per_ip=3)
        await limits.check(ip="198.51.100.1", user_id="usr_d")
        await limits.check(ip="198.51.100.1", user_id="usr_d")
        refused = await refusal(limits, ip="198.51.100.1", user_id="usr_d")
        assert refused.details == {"scope": "user"}
        assert await logged(limits, "ip", "198.51.100.1") == 2
        await limits.check(ip="198.51.100.1", user_id="usr_e")
        refused = await refusal(limits, ip="198.51.100.1", user_id="usr_f")
        assert refused.details == {"scope": "ip"}
        assert await logged(limits, "user", "usr_f") == 0
        assert await logged(limits, "ip", "198.51.100.1") == 3

    async def test_when_both_subjects_refuse_the_longer_wait_is_told(
        self, api: ApiClient, boundary: float
    ) -> None:
        limits, clock = limiter(api, boundary, per_user=2, per_ip=2)
        await limits.check(ip="198.51.100.2", user_id="usr_g")
        clock.now = boundary + 20
        await limits.check(ip="198.51.100.3", user_id="usr_g")
        clock.now = boundary + 40
        await limits.check(ip="198.51.100.3", user_id="usr_h")
        clock.now = boundary + 45
        # The user comes free in 15 s, the address in 35 s: 15 would be a promise broken.
        refused = await refusal(limits, ip="198.51.100.3", user_id="usr_g")
        assert (refused.details, retry_after(refused)) == ({"scope": "ip"}, 35)
        clock.now = boundary + 80
        await limits.check(ip="198.51.100.3", user_id="usr_g")

    async def test_spend_counts_its_own_subject(self, api: ApiClient, boundary: float) -> None:
        limits, clock = limiter(api, boundary, per_user=100)
        await limits.spend(("verify_payment", "pay_1", 1))
        await limits.spend(("verify_payment", "pay_2", 1))
        clock.now = boundary + 1
        with pytest.raises(RateLimited) as refused:
            await limits.spend(("verify_payment", "pay_1", 1))
        assert (refused.value.details, retry_after(refused.value)) == (
            {"scope": "verify_payment"},
            59,
        )

    async def test_a_burst_of_parallel_requests_gets_the_limit_and_no_more(
        self, api: ApiClient, boundary: float
    ) -> None:
        # More requests in flight at once than the client has connections (100): the rest must
        # wait for one, not fail as an outage would and be let through.
        limits, _ = limiter(api, boundary, per_user=20)
        answers = await asyncio.gather(
            *(limits.check(ip=None, user_id="usr_j") for _ in range(250)), return_exceptions=True
        )
        assert answers.count(None) == 20
        assert all(isinstance(answer, RateLimited) for answer in answers if answer is not None)
        assert await logged(limits, "user", "usr_j") == 20

    async def test_a_redis_outage_lets_requests_through(self) -> None:
        # Nothing listens on port 1; no retries, so each call fails at once.
        unreachable = Redis.from_url(
            "redis://127.0.0.1:1/0", socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
        )
        try:
            limits = RateLimiter(unreachable, prefix="test:", per_user=1, per_ip=1)
            for _ in range(3):
                await limits.check(ip="198.51.100.4", user_id="usr_i")
        finally:
            await unreachable.aclose()
