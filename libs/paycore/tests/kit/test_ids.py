"""Ids keep their layout: 10 Crockford base32 digits of milliseconds, then 16 random ones."""

import time

import pytest
from paycore.kit import ids
from paycore.kit.ids import new_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # pragma: allowlist secret


def digits(number: int, length: int) -> str:
    """The reference encoding: most significant digit first."""
    out = ""
    for _ in range(length):
        number, rest = divmod(number, 32)
        out = CROCKFORD[rest] + out
    return out


def test_an_id_is_the_milliseconds_then_the_random_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    millis = 1_764_581_400_123
    monkeypatch.setattr(ids.time, "time_ns", lambda: millis * 1_000_000 + 999)
    monkeypatch.setattr(ids.secrets, "randbits", lambda bits: (1 << bits) - 12345)
    assert new_id("pay") == "pay_" + digits(millis, 10) + digits((1 << 80) - 12345, 16)


def test_ids_sort_by_time_and_differ() -> None:
    first = new_id("evt")
    time.sleep(0.002)
    second = new_id("evt")
    assert first < second
    assert len(first) == len("evt_") + 26
    assert set(first[4:]) <= set(CROCKFORD)
    assert len({new_id("evt") for _ in range(1000)}) == 1000
