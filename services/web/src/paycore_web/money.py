"""Amounts: integers in minor units (paise) everywhere; rupees only on screen and in forms."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision

LOCALE = "en_IN"  # Indian digit grouping: ₹1,18,000.00


def minor_digits(currency: str) -> int:
    return int(get_currency_precision(currency))


def show(minor: int | None, currency: str = "INR") -> str:
    """`118000` paise → `₹1,180.00` (the currency's symbol, grouping and decimals)."""
    if minor is None:
        return ""
    major = Decimal(minor).scaleb(-minor_digits(currency))
    return str(format_currency(major, currency, locale=LOCALE))


def to_minor(text: str, currency: str = "INR") -> int:
    """`"1,180.50"` rupees → `118050` paise. Raises ValueError for anything that is not a
    non-negative amount with at most the currency's decimals."""
    cleaned = text.strip().replace(",", "").removeprefix("₹").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("not an amount") from None
    if not value.is_finite() or value < 0:
        raise ValueError("not an amount")
    minor = value.scaleb(minor_digits(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"at most {minor_digits(currency)} decimals")
    return int(minor)


def input_value(minor: int | None, currency: str = "INR") -> str:
    """Minor units as a form field's plain value (`118050` → `"1180.50"`)."""
    if minor is None:
        return ""
    return f"{Decimal(minor).scaleb(-minor_digits(currency)):.{minor_digits(currency)}f}"
