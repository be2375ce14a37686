import json

from loguru import logger
from paycore.kit.context import bound_ids
from paycore.kit.logging import JsonFormatter, mask_text


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
