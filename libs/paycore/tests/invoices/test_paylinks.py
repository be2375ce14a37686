"""Pay-link tokens: what they name, when they expire, and that nothing else passes for one."""

import time

import pytest
from itsdangerous import URLSafeSerializer
from paycore.invoices.errors import PayLinkExpired, PayLinkInvalid
from paycore.invoices.paylinks import PayLinks, fill_link

SECRET = "pay-link-test-secret-0123456789abcdef"


def test_a_token_names_its_invoice_until_it_expires() -> None:
    links = PayLinks(SECRET, ttl_seconds=60)
    token = links.issue("usr_1", "INV-7", now=1_000_000)
    link = links.read(token, now=1_000_059)
    assert (link.user_id, link.invoice_number) == ("usr_1", "INV-7")
    assert int(link.expires_at.timestamp()) == 1_000_060
    with pytest.raises(PayLinkExpired):
        links.read(token, now=1_000_060)


def test_a_token_is_short_enough_for_a_return_url() -> None:
    # Cashfree's return_url is at most 250 characters; the page's URL carries the token.
    token = PayLinks(SECRET).issue("usr_" + "x" * 28, "INV-2026-" + "9" * 20)
    assert len(token) < 150
    assert token.replace("-", "").replace("_", "").replace(".", "").isalnum()


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "x" * 401],
)
def test_malformed_tokens_are_invalid(token: str) -> None:
    with pytest.raises(PayLinkInvalid):
        PayLinks(SECRET).read(token)


def test_another_secret_or_an_altered_token_is_invalid() -> None:
    token = PayLinks(SECRET).issue("usr_1", "INV-7")
    with pytest.raises(PayLinkInvalid):
        PayLinks(SECRET.upper()).read(token)
    payload, _, signature = token.rpartition(".")
    forged = URLSafeSerializer(SECRET, salt="another.salt").dumps(["usr_2", "INV-7", 2**40])
    for altered in (payload + "." + signature[::-1], forged):
        with pytest.raises(PayLinkInvalid):
            PayLinks(SECRET).read(altered)


def test_a_signed_value_of_another_shape_is_invalid() -> None:
    links = PayLinks(SECRET)
    wrong = links._serializer.dumps({"user": "usr_1", "exp": int(time.time()) + 60})
    with pytest.raises(PayLinkInvalid):
        links.read(wrong)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        PayLinks("short")


def test_fill_link_gives_no_link_when_a_placeholder_has_no_value() -> None:
    template = "https://pay.example/pay/{pay_token}"
    assert fill_link(template, pay_token="abc") == "https://pay.example/pay/abc"
    assert fill_link(template, invoice_number="INV-1") is None
    assert fill_link("", pay_token="abc") is None
