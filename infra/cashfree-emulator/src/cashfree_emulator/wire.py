"""JSON and time on the wire, the way Cashfree writes them.

Amounts are `Decimal` end to end: parsed from the raw number text and written back with
their two decimals (`170.00`, never `170.0` or `170`), because webhook receivers verify the
signature over the raw bytes and compare amounts exactly.
"""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

IST = timezone(timedelta(hours=5, minutes=30))
TWO_PLACES = Decimal("0.01")

JsonValue = Any
JsonObject = dict[str, Any]


class InvalidJson(ValueError):
    """The body is not JSON, or uses NaN/Infinity which Cashfree never accepts."""


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not valid JSON")


def loads(raw: bytes | str) -> JsonValue:
    """Parse JSON keeping every non-integer number as the exact `Decimal` of its text."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJson(str(exc)) from exc
    except RecursionError:  # [[[[...]]]] deeper than the interpreter recurses
        raise InvalidJson("JSON nested too deeply") from None


def dumps(value: JsonValue) -> str:
    """Serialize compactly; `Decimal` values appear verbatim (`Decimal('170.00')` → `170.00`)."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: JsonValue, out: list[str]) -> None:
    if isinstance(value, Decimal):
        out.append(format(value, "f"))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        out.append(json.dumps(value))


def money(value: Decimal | int | str) -> Decimal:
    """An amount with exactly two decimals, ready for the wire."""
    return Decimal(value).quantize(TWO_PLACES)


def now_ist() -> datetime:
    return datetime.now(IST).replace(microsecond=0)


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 in IST without fractions, e.g. `2023-08-11T18:02:46+05:30`."""
    if moment is None:
        return None
    return moment.astimezone(IST).replace(microsecond=0).isoformat()


def plain_time(moment: datetime) -> str:
    """`2025-02-14 12:00:00` (IST, no `T`, no offset), as in settlement webhooks."""
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")


def parse_datetime(text: str) -> datetime:
    """ISO-8601 with `Z` or an offset; a naive value is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
