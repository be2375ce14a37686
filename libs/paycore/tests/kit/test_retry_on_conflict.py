"""`retry_on_conflict`: read, decide, write again until the write lands (or give up)."""

import pytest
from paycore.kit.state import (
    CONFLICT,
    CONFLICT_TRIES,
    ChangedConcurrently,
    WriteConflict,
    read_again_after,
    retry_on_conflict,
    written,
)


async def test_a_conflict_reads_and_decides_again_until_the_write_lands() -> None:
    tries: list[int] = []

    async def attempt() -> str | WriteConflict:
        tries.append(len(tries))
        return CONFLICT if len(tries) < 3 else "landed"

    assert await retry_on_conflict(attempt, payment_id="pay_1") == "landed"
    assert len(tries) == 3


async def test_none_is_an_answer_not_a_conflict() -> None:
    async def attempt() -> str | WriteConflict | None:
        return None  # "already applied": nothing to write

    assert await retry_on_conflict(attempt) is None


async def test_gives_up_with_the_ids_after_the_last_try() -> None:
    tries = 0

    async def attempt() -> str | WriteConflict:
        nonlocal tries
        tries += 1
        return written(None)

    with pytest.raises(ChangedConcurrently) as raised:
        await retry_on_conflict(attempt, refund_id="rfd_1")
    assert tries == CONFLICT_TRIES
    assert raised.value.details == {"refund_id": "rfd_1"}


async def test_the_first_try_decides_on_the_callers_read_the_next_on_a_fresh_one() -> None:
    reads = iter(["fresh 1", "fresh 2"])

    async def read() -> str:
        return next(reads)

    current = read_again_after("caller's", read)
    assert [await current(), await current(), await current()] == [
        "caller's",
        "fresh 1",
        "fresh 2",
    ]
