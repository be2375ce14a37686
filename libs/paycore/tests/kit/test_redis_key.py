from urllib.parse import quote

from paycore.kit.redis import redis_key


def test_each_part_is_encoded_so_joined_parts_never_meet() -> None:
    assert redis_key("p:", "idempotency", "a:b", "c") != redis_key("p:", "idempotency", "a", "b:c")
    assert redis_key("p:", "x", "a%3Ab") != redis_key("p:", "x", "a:b")


def test_plain_ids_read_as_before() -> None:
    assert redis_key("test:1:", "lock", "refund", "ref_01H") == "test:1:lock:refund:ref_01H"
    assert redis_key("", "ratelimit", "ip", "2001:db8::1", 7) == "ratelimit:ip:2001%3Adb8%3A%3A1:7"


def test_every_part_is_encoded_as_quote_encodes_it() -> None:
    parts = ["usr_1", "A-z.0~9", "a:b", "50%", "ü", "a b", "", "x/y", "٣", 7, -3]
    for part in parts:
        assert redis_key("p:", part) == "p:" + quote(str(part), safe="")
