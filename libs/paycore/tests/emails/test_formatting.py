import pytest
from paycore.emails.formatting import format_amount, mask_address


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (0, "INR", "₹0.00"),
        (1034, "INR", "₹10.34"),
        (99_999_00, "INR", "₹99,999.00"),
        (123_456_750, "INR", "₹12,34,567.50"),
        (10_000_000_000, "INR", "₹10,00,00,000.00"),
        (150_000, "USD", "$1,500.00"),
        (123_456_789, "EUR", "€1,234,567.89"),
        (1500, "JPY", "¥1,500"),
        (1234, "KWD", "1.234 KWD"),
        (-2500, "INR", "-₹25.00"),
    ],
)
def test_amounts_read_as_the_currency_is_written(minor: int, currency: str, shown: str) -> None:
    assert format_amount(minor, currency) == shown


def test_masked_address_keeps_first_letter_and_domain() -> None:
    assert mask_address("buyer@example.com") == "b***@example.com"
    assert mask_address("not-an-address") == "***"
