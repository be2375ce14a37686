"""An audit entry's values and the chain's hash keep their form: records already stored must
still verify."""

from datetime import UTC, datetime
from decimal import Decimal

from paycore.kit.audit import plain, record_hash

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
VALUE = {
    "$set": {"a.b": 1, "when": WHEN},
    "items": [{"$ne": None}, "x", 2.5, True],
    "amount": Decimal("10.34"),
    1: "one",
}


def test_plain_stores_operators_paths_and_non_json_values_as_text() -> None:
    assert plain(VALUE) == {
        "op_set": {"a/b": 1, "when": "2026-12-01 09:30:00+00:00"},
        "items": [{"op_ne": None}, "x", 2.5, True],
        "amount": "10.34",
        "1": "one",
    }


def test_record_hash_is_unchanged_for_a_known_body() -> None:
    body = {"entry": plain(VALUE), "at": WHEN, "n": 3}
    expected = "2ea9e256e4085893b04fa9a63c690a8c460de7db05c07d28cc79c206608bd1c0"  # pragma: allowlist secret
    assert record_hash("0" * 64, body) == expected
    assert record_hash("1" * 64, body) != expected
