"""Amounts and addresses as people read them."""

from __future__ import annotations

from typing import Final

from paycore.money import to_major

CURRENCY_SYMBOLS: Final = {
    "INR": "₹",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "AUD": "A$",
    "CAD": "C$",
    "SGD": "S$",
}


def format_amount(minor: int, currency: str) -> str:
    """`123456750, "INR"` → `₹12,34,567.50` (Indian grouping); `150000, "USD"` → `$1,500.00`;
    `1500, "JPY"` → `¥1,500`; a currency without a symbol → `1.234 KWD`."""
    major = to_major(minor, currency)  # exact, with the currency's number of decimals
    whole, _, fraction = f"{abs(major):f}".partition(".")
    grouped = _indian_groups(whole) if currency.upper() == "INR" else _thousands(whole)
    number = grouped + (f".{fraction}" if fraction else "")
    sign = "-" if major < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency.upper()}"


def _thousands(digits: str) -> str:
    return f"{int(digits):,}"


def _indian_groups(digits: str) -> str:
    """The last three digits, then groups of two: 1234567 → 12,34,567."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join([*groups, tail])


def mask_address(address: str) -> str:
    """`buyer@example.com` → `b***@example.com`: recognisable, not readable."""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"
