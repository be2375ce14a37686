"""Amounts: integer minor units on our side, exact decimals only at a gateway's edge.

Floats never carry money: `to_minor` refuses them, and `dump_json` writes a `Decimal` as a
bare JSON number (`10.34`), which is what Cashfree expects in a request body.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Final

from paycore.kit.errors import InvalidAmount, UnknownCurrency
from paycore.kit.parsing import loads_json

# ISO 4217 minor-unit exponents. A currency missing here is refused rather than guessed.
CURRENCY_EXPONENTS: Final[Mapping[str, int]] = {
    "INR": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "AED": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "JPY": 0,
    "KRW": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
}


_MAX_DIGITS: Final = 30


# The largest amount in minor units we accept anywhere (₹10 lakh crore in paise): exact as a
# JSON number in every client (below 2**53) and far inside the database's int64.
MAX_MINOR_UNITS: Final = 10**15
# The largest quantity of one invoice line.
MAX_QUANTITY: Final = 1_000_000


def exponent_of(currency: str) -> int:
    """How many decimals the currency has (INR 2, JPY 0, KWD 3)."""
    try:
        return CURRENCY_EXPONENTS[currency.upper()]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {currency!r}", currency=currency) from None


def minimum_amount(currency: str) -> int:
    """The smallest order Cashfree accepts, in minor units: one major unit (₹1 = 100 paise).
    Source: Create Order, `order_amount` minimum 1."""
    return int(10 ** exponent_of(currency))


def to_major(minor: int, currency: str) -> Decimal:
    """1034 paise -> Decimal("10.34"); exact, with the currency's number of decimals."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise InvalidAmount("minor units must be an int")
    exponent = exponent_of(currency)
    # Built from the digits, not by division, so no context precision can round it.
    sign, digits, _ = Decimal(minor).as_tuple()
    return Decimal((sign, digits, -exponent))


def to_minor(value: Decimal | int | str, currency: str) -> int:
    """Decimal("10.34") -> 1034; raises on more decimals than the currency allows."""
    exponent = exponent_of(currency)
    amount = _as_decimal(value)
    numerator, denominator = amount.as_integer_ratio()
    scaled: int = numerator * 10**exponent
    if scaled % denominator:
        raise InvalidAmount(
            f"{currency} allows at most {exponent} decimals", amount=str(value), currency=currency
        )
    return scaled // denominator


def _as_decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        # A float has already lost the exact amount; refuse it instead of guessing.
        raise InvalidAmount(f"amount must be Decimal, int or str, not {type(value).__name__}")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except ArithmeticError:
        raise InvalidAmount("amount is not a number", amount=str(value)) from None
    if not amount.is_finite():
        raise InvalidAmount("amount must be finite", amount=str(value))
    # Bounds the exact arithmetic below: "1e999999999" must not become a billion-digit int.
    exponent = amount.as_tuple().exponent
    if amount.adjusted() > _MAX_DIGITS or (isinstance(exponent, int) and exponent < -_MAX_DIGITS):
        raise InvalidAmount("amount has too many digits", amount=str(value))
    return amount


def dump_json(value: object) -> bytes:
    """Compact JSON where a `Decimal` is a bare number (`10.34`), never a string or a float.

    Accepts dicts, lists, tuples, str, int, bool, None and finite Decimals; refuses floats.
    """
    return _encode(value).encode()


def _encode(value: object) -> str:
    # The scalars as `json.dumps(value, ensure_ascii=False)` writes them, without building a
    # JSON encoder per value (a gateway body has about twenty: 60 µs of the create).
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidAmount("amount must be finite", amount=str(value))
        return format(value, "f")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, float):
        raise TypeError("floats are not written to gateway bodies; use Decimal")
    if isinstance(value, Mapping):
        items = (f"{encode_basestring(str(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def load_json(raw: bytes | str) -> object:
    """Parses JSON with every non-integer number as an exact `Decimal`."""
    return loads_json(raw, parse_float=Decimal)
