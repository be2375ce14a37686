import json

from hypothesis import given
from hypothesis import strategies as st
from loguru import logger
from paycore.kit.context import bound_ids
from paycore.kit.logging import BEARER, CARD, EMAIL, MASK, PHONE, JsonFormatter, mask_text


def capture(lines: list[str]):
    formatter = JsonFormatter("test-service", "test")
    return logger.add(lambda message: lines.append(formatter.line(message.record)), level="DEBUG")


def test_every_line_has_the_context_fields() -> None:
    lines: list[str] = []
    handler = capture(lines)
    try:
        with bound_ids("req_1", "corr_1", "trace_1", paymentId="pay_1"):
            logger.info("payment succeeded")
        logger.info("outside a request")
    finally:
        logger.remove(handler)
    inside, outside = (json.loads(line) for line in lines)
    for entry in (inside, outside):
        for field in (
            "requestId",
            "correlationId",
            "traceId",
            "service",
            "module",
            "environment",
            "timestamp",
        ):
            assert field in entry
    assert inside["requestId"] == "req_1"
    assert inside["paymentId"] == "pay_1"
    assert inside["service"] == "test-service"
    assert outside["requestId"] is None


def test_secrets_and_pii_are_masked_by_the_filter() -> None:
    lines: list[str] = []
    handler = capture(lines)
    try:
        logger.bind(
            x_client_secret="cfsk_live_123",
            customer_email="asha@example.com",
            customer_phone="9876543210",
            headers={"x-webhook-signature": "abc=", "host": "h"},
        ).info("customer asha@example.com paid with 4111 1111 1111 1111 auth Bearer abc.def")
    finally:
        logger.remove(handler)
    text = lines[0]
    entry = json.loads(text)
    for secret in (
        "cfsk_live_123",
        "asha@example.com",
        "9876543210",
        "4111 1111",
        "abc=",
        "abc.def",
    ):
        assert secret not in text
    assert entry["headers"]["host"] == "h"


def test_mask_text_keeps_what_is_not_sensitive() -> None:
    assert mask_text("order ord_123 for 1000 paise") == "order ord_123 for 1000 paise"


def all_four_substitutions(text: str) -> str:
    text = BEARER.sub(r"\1" + MASK, text)
    text = CARD.sub(MASK, text)
    text = EMAIL.sub(r"\1***@\2", text)
    return PHONE.sub(r"\1******\2", text)


# Text made of what the patterns look for: digits, separators, @, dots, letters of "bearer".
MASKABLE = st.text(alphabet="0123456789 -+@._aAbBeErR\t", max_size=60)


@given(st.one_of(MASKABLE, st.text(max_size=60)))
def test_mask_text_skips_only_text_no_pattern_can_match(text: str) -> None:
    assert mask_text(text) == all_four_substitutions(text)


def test_mask_text_still_masks_each_kind() -> None:
    assert mask_text("Authorization: bearer abc.def") == "Authorization: bearer ***"
    assert mask_text("card 4111 1111 1111 1111 ok") == "card *** ok"
    assert mask_text("mail asha@example.com") == "mail a***@example.com"
    assert mask_text("call 9876543210") == "call 98******10"
