"""Vectors are computed here from the written algorithm, not by the code under test:
signature = base64(HMAC-SHA256(secret, timestamp_str + raw_body))."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from paycore.gateway import WebhookSignatureError, sign_webhook, verify_webhook_signature

SECRET = b"TEST_SECRET_KEY"
OLD_SECRET = b"OLD_SECRET_KEY"
NOW_MS = 1_746_427_759_733
TOLERANCE_MS = 300_000
# Re-serialising this body would turn 170.00 into 170.0 or 170 and break the signature.
BODY = b'{"data":{"order":{"order_id":"ord_1","order_amount":170.00}},"type":"PAYMENT_SUCCESS_WEBHOOK"}'


def reference_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret, timestamp.encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def verify(
    body: bytes = BODY,
    signature: str | None = None,
    timestamp: str | None = str(NOW_MS),
    secrets: tuple[bytes, ...] = (SECRET,),
    now_ms: int = NOW_MS,
) -> None:
    if signature is None and timestamp is not None:
        signature = reference_signature(SECRET, timestamp, BODY)
    verify_webhook_signature(
        body, signature, timestamp, secrets, now_ms=now_ms, tolerance_ms=TOLERANCE_MS
    )


def reason_of(**kwargs: object) -> str:
    with pytest.raises(WebhookSignatureError) as raised:
        verify(**kwargs)  # type: ignore[arg-type]
    return raised.value.reason


def test_known_vector_is_accepted() -> None:
    verify()


def test_signature_is_over_the_raw_bytes_with_no_separator() -> None:
    timestamp = str(NOW_MS)
    expected = reference_signature(SECRET, timestamp, BODY)
    assert sign_webhook(BODY, NOW_MS, SECRET) == expected
    assert len(expected) == 44
    dotted = reference_signature(SECRET, timestamp + ".", BODY)
    assert reason_of(signature=dotted) == "bad_signature"


def test_reserialised_body_fails() -> None:
    reserialised = BODY.replace(b"170.00", b"170.0")
    assert reason_of(body=reserialised) == "bad_signature"


def test_tampered_body_fails() -> None:
    assert reason_of(body=BODY.replace(b"ord_1", b"ord_2")) == "bad_signature"


def test_second_active_secret_is_accepted_during_rotation() -> None:
    signature = reference_signature(OLD_SECRET, str(NOW_MS), BODY)
    verify(signature=signature, secrets=(SECRET, OLD_SECRET))
    assert reason_of(signature=signature, secrets=(SECRET,)) == "bad_signature"


def test_no_secrets_accepts_nothing() -> None:
    assert reason_of(secrets=()) == "bad_signature"


@pytest.mark.parametrize(
    "offset_ms", [TOLERANCE_MS + 1, -(TOLERANCE_MS + 1)], ids=["stale", "future"]
)
def test_timestamps_outside_the_window_fail_both_ways(offset_ms: int) -> None:
    timestamp = str(NOW_MS - offset_ms)
    signature = reference_signature(SECRET, timestamp, BODY)
    assert reason_of(signature=signature, timestamp=timestamp) == "stale_timestamp"


@pytest.mark.parametrize("offset_ms", [TOLERANCE_MS, -TOLERANCE_MS, 0])
def test_timestamps_at_the_window_edge_pass(offset_ms: int) -> None:
    timestamp = str(NOW_MS - offset_ms)
    verify(signature=reference_signature(SECRET, timestamp, BODY), timestamp=timestamp)


def test_seconds_are_not_milliseconds() -> None:
    timestamp = str(NOW_MS // 1000)
    signature = reference_signature(SECRET, timestamp, BODY)
    assert reason_of(signature=signature, timestamp=timestamp) == "stale_timestamp"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"signature": ""}, "missing_signature"),
        ({"signature": None, "timestamp": None}, "missing_signature"),
        ({"signature": "x", "timestamp": None}, "missing_timestamp"),
        ({"signature": "x", "timestamp": ""}, "missing_timestamp"),
        ({"signature": "x", "timestamp": "17464277597.33"}, "malformed_timestamp"),
        ({"signature": "x", "timestamp": "-1746427759733"}, "malformed_timestamp"),
        ({"signature": "x", "timestamp": "9" * 5000}, "malformed_timestamp"),
        ({"signature": "not base64 at all"}, "bad_signature"),
    ],
)
def test_each_failure_names_its_reason(kwargs: dict[str, object], reason: str) -> None:
    assert reason_of(**kwargs) == reason


def test_error_is_an_app_error_with_the_reason_in_details() -> None:
    with pytest.raises(WebhookSignatureError) as raised:
        verify(signature="bad")
    assert raised.value.status == 401
    assert raised.value.details == {"reason": "bad_signature"}
