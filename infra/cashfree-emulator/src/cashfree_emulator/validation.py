"""Request checks with Cashfree's codes: `<field>_missing`, `<field>_invalid`."""

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from cashfree_emulator.errors import CashfreeError, invalid
from cashfree_emulator.wire import TWO_PLACES, JsonObject, money

# Always fullmatch: `$` would accept a trailing newline.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
# A + prefix allows international numbers (PY6); otherwise exactly 10 characters.
PHONE_PATTERN = re.compile(r"[0-9]{10}|\+[0-9]{8,15}")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
URL_PATTERN = re.compile(r"https?://[^\s]+")


def require_object(body: Any) -> JsonObject:
    if not isinstance(body, dict):
        raise invalid("request_failed", "request body should be a JSON object")
    return body


def missing(field: str) -> CashfreeError:
    return invalid(f"{field}_missing", f"{field} : is missing in the request")


def amount(value: Any, field: str, *, minimum: Decimal) -> Decimal:
    """A number (never a string or bool) ≥ minimum with at most two decimals, exactly."""
    if value is None:
        raise missing(field)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise invalid(f"{field}_invalid", f"{field} : should be a number")
    try:
        exact = Decimal(value)
        has_more_decimals = exact != exact.quantize(TWO_PLACES)
    except InvalidOperation:
        raise invalid(f"{field}_invalid", f"{field} : should be a valid amount") from None
    if has_more_decimals:
        raise invalid(f"{field}_invalid", f"{field} : should have at most 2 decimal places")
    if exact < minimum:
        raise invalid(f"{field}_invalid", f"{field} : should be greater than or equal to {minimum}")
    return money(exact)


def text(
    body: JsonObject,
    field: str,
    *,
    min_length: int,
    max_length: int,
    required: bool = False,
    pattern: re.Pattern[str] | None = None,
    code: str | None = None,
) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise missing(field)
        return None
    error_code = code or f"{field}_invalid"
    if not isinstance(value, str):
        raise invalid(error_code, f"{field} : should be a string")
    if not min_length <= len(value) <= max_length:
        raise invalid(
            error_code, f"{field} : should be between {min_length} and {max_length} characters"
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise invalid(error_code, f"{field} : has invalid characters")
    return value


def identifier(body: JsonObject, field: str, *, max_length: int, required: bool) -> str | None:
    """order_id / refund_id: 3..max characters, alphanumeric plus `_` and `-`."""
    return text(
        body, field, min_length=3, max_length=max_length, required=required, pattern=ID_PATTERN
    )
