"""Parsing what callers send, without the exceptions that would answer 500.

- `str.isdigit()` is true for `²`, `١٢` and `１２`, which `int()` refuses or reads; a number in a
  query string or header is plain ASCII digits, and short (`int()` refuses 4300+ digits).
- `json.loads` raises RecursionError, not ValueError, on arrays or objects nested deeper than
  the interpreter's recursion limit (`[[[[...]]]]` in a few hundred KiB).
"""

from __future__ import annotations

import json
from typing import Any

# Enough for any count, size or timestamp in milliseconds we read; int64 has 19 digits.
MAX_DIGITS = 18


def ascii_int(raw: str | None, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The value of `raw` if it is 1 to `max_digits` ASCII digits, else None."""
    if raw is None or not 0 < len(raw) <= max_digits or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)


def loads_json(raw: bytes | str, **options: Any) -> Any:
    """`json.loads(raw, **options)`; raises ValueError for anything that is not JSON, including
    text that is not UTF-8 and nesting too deep to parse."""
    try:
        return json.loads(raw, **options)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError("JSON that is not UTF-8") from exc
